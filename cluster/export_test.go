package cluster

import "github.com/crewrun/crew"

// IgnoreStartRequests makes ex behave like an executor that predates
// crew.start: workers asking before a solo run get no answer, so only the
// consumer's MaxDeliver stops a task that kills its workers.
func IgnoreStartRequests(ex crew.Executor) error {
	return ex.(*executor).starts.Unsubscribe()
}

// MaxDeliver is the consumer's bound on deliveries.
const MaxDeliver = maxDeliver
