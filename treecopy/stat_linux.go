package treecopy

import "syscall"

type unixStat = syscall.Stat_t

func statAtime(st *unixStat) int64 { return st.Atim.Nano() }
