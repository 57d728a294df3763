package cluster_test

func helperMain() bool { return false }
