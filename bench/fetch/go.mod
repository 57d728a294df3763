module github.com/crewrun/crew/bench/fetch

go 1.26.0
