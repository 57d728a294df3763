package crawl

import "time"

// SetRobotsRetry sets how soon a failed robots.txt fetch is tried again,
// until the returned function restores it.
func SetRobotsRetry(d time.Duration) (restore func()) {
	old := robotsRetry
	robotsRetry = d
	return func() { robotsRetry = old }
}
