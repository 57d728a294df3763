package fetch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/crewrun/crew/fetch"
)

func ExampleClient_Get() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<title>Hello</title>")
	}))
	defer srv.Close()

	c, err := fetch.NewClient(fetch.Config{Retries: 2, PerHost: 4})
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	resp, err := c.Get(context.Background(), srv.URL)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Status, resp.Attempts, fetch.Title(resp.Body, resp.Header.Get("Content-Type")))
	// Output: 200 1 Hello
}

func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<title>page %s</title>", r.URL.Path)
	}))
	defer srv.Close()

	urls := []fetch.Input{{URL: srv.URL + "/a"}, {URL: "gopher://old.example/"}}
	var failed []string
	st, err := fetch.Run(context.Background(), fetch.Options{Concurrency: 8}, slices.Values(urls), func(r fetch.Result) error {
		if r.Err != nil {
			failed = append(failed, r.URL)
		} else {
			fmt.Println(r.Status, r.Title)
		}
		return nil
	})
	fmt.Println(st.OK, st.Failed, failed, err)
	// Output:
	// 200 page /a
	// 1 1 [gopher://old.example/] <nil>
}
