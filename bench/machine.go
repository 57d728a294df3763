package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Python    string `json:"python,omitempty"`
	// PythonFreeThreaded says that Python ran without the GIL.
	PythonFreeThreaded bool `json:"python_free_threaded,omitempty"`
	// LoadAtStart is the one-minute load average when the run began: how
	// many threads were running or waiting for a core. -1 where the
	// system does not say (only Linux's /proc/loadavg is read).
	LoadAtStart float64 `json:"load_at_start"`
}

func machine(python string) Machine {
	m := Machine{CPU: cpuModel(), Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, LoadAtStart: -1}
	if python != "" {
		m.Python, m.PythonFreeThreaded = pythonVersion(python)
	}
	if l, ok := loadAverage(); ok {
		m.LoadAtStart = l
	}
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAverage returns the one-minute load average (Linux).
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return l, err == nil
}

// clockTick is the unit of /proc/stat: USER_HZ, 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// systemBusy returns the CPU time all programs have used since boot
// (Linux's /proc/stat, idle and IO wait left out).
func systemBusy() (time.Duration, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() {
		return 0, false
	}
	fields := strings.Fields(s.Text())
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, false
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for i, v := range fields[1:min(len(fields), 9)] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, true
}

// otherLoad measures, over a stretch of the run, how many cores other
// programs kept busy on average: the whole system's CPU time less this
// process's and its children's.
type otherLoad struct {
	ok         bool
	sys0, own0 time.Duration
	t0         time.Time
}

func startOtherLoad() otherLoad {
	sys, ok := systemBusy()
	return otherLoad{ok: ok && childrenCounted, sys0: sys, own0: cpuTime(), t0: time.Now()}
}

// cores returns the other programs' average use in cores, or -1 when
// unknown.
func (o otherLoad) cores() float64 {
	sys, ok := systemBusy()
	wall := time.Since(o.t0)
	if !o.ok || !ok || wall < 200*time.Millisecond {
		return -1
	}
	other := (sys - o.sys0) - (cpuTime() - o.own0)
	return max(0, other.Seconds()/wall.Seconds())
}
