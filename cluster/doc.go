// Package cluster runs crew tasks on worker processes spread over machines,
// through a NATS JetStream server.
//
// The smallest use needs no set-up: "embedded" starts an in-process server
// and crew.Workers(n) local workers.
//
//	ex, err := cluster.New(ctx, "embedded", crew.Workers(4))
//	if err != nil { ... }
//	defer ex.Close()
//	for r := range crew.Map(ctx, ex, square, slices.Values(nums)) { ... }
//
// Across machines, run a server (crew serve, or Serve), workers, and
// point New at the server: cluster.New(ctx, "nats://10.0.0.5:4222",
// cluster.Token(t)). Outside a trusted network, protect the server with a
// token or nkeys (ServerConfig.NKeys, NKey) and TLS (ServerTLS, ClientTLS,
// TLS).
//
// # Which worker runs a task
//
// A worker runs the tasks registered in its own binary, and only those: it
// fetches a job's tasks of a name from that name's consumer only if it
// registered the name. crew worker is the crew binary's worker: it runs
// crew's own tasks (crew run --cluster's shell jobs, with --allow-shell;
// crew crawl's visits; crew primes' queries). Your program's tasks need
// your program's binary running Work — for example a main that calls
// cluster.Work(ctx, url) when started with a "worker" argument. Both kinds
// can share a server: a task never reaches a worker that lacks it, and
// one that no connected worker runs waits, within its context, until one
// connects (crew serve logs which tasks wait and why; Notices makes an
// executor say so too). Workers announce themselves — host, pid,
// version, task names, slots, counts — in the CREW_WORKERS bucket, which
// ListWorkers reads.
//
// # Delivery
//
// Each executor is one job: tasks go to a work-queue stream, workers fetch
// them in batches, publish each result and acknowledge the task only once
// the result is stored. A worker that dies mid-task leaves it to be
// redelivered to another; the executor drops the duplicate result, so
// every call completes exactly once. A task that kills its worker on every
// delivery fails with crew.ErrWorkerDied; from its third delivery it runs
// alone on its worker, so that the tasks held with it are not blamed. The
// message format is in docs/protocol-cluster.md.
//
// crew.Timeout cancels the task's context on the worker at the deadline
// and the call fails with crew.ErrTimeout; a task that ignores its
// context is abandoned past a grace period — its call fails with
// crew.ErrTimeout on time, and its goroutine runs on in the worker until
// it returns (counted as abandoned in the worker's announcement).
// Cancelling a call's context completes it with the context's error at
// once and tells the workers to cancel the task, or skip it if it has not
// started.
//
// A server restarted on the same store (ServerConfig.StoreDir) keeps the
// pending tasks and jobs; executors and workers reconnect on their own.
// One restarted without it has lost them: the pending calls fail with
// ErrJobLost, and workers go on with the jobs submitted after the restart.
// An executor renews its job every ten seconds; the job of one that died
// without Close is removed by the workers a minute later.
// Three servers form a cluster with ServerConfig.ClusterListen and Routes;
// with Replicas(3) a node can die without losing a task.
//
// Every executor keeps a record of its job (counts once per call, run
// times, recent failures) on the server; Observe reads it with the
// queues' counts — what crew serve --ui (package view), crew jobs and crew
// top show — and cancels a job from outside (its calls then fail with
// ErrJobCancelled). A worker whose context ends drains: it hands the
// tasks it fetched back without counting a delivery and lets its running
// ones finish (DrainTimeout, StopNow, Signals).
//
// Durability: JetStream fsyncs its files every two minutes by default. For
// tasks that must survive a power cut, run three servers with Replicas(3)
// or set ServerConfig.SyncAlways.
package cluster
