package fetch_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/crewrun/crew/fetch"
)

func TestTitle(t *testing.T) {
	tests := []struct {
		name, body, contentType, want string
	}{
		{"utf8", "<html><head><title>Hello,\n  wörld</title>", "text/html; charset=utf-8", "Hello, wörld"},
		{"meta charset latin1", "<meta charset=\"iso-8859-1\"><title>Caf\xe9</title>", "text/html", "Café"},
		{"http-equiv", "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"><title>\xcf\xf0\xe8\xe2\xe5\xf2</title>", "", "Привет"},
		{"header beats meta", "<meta charset=\"utf-8\"><title>\xa4</title>", "text/html; charset=iso-8859-15", "€"},
		{"shift_jis", "<meta charset=shift_jis><title>\x93\xfa\x96\x7b</title>", "text/html", "日本"},
		{"entities", "<title>a &amp; b &lt;c&gt;</title>", "text/html", "a & b <c>"},
		{"none", "<html><body>no title</body></html>", "text/html", ""},
		{"svg title skipped", "<svg><title>icon</title></svg><title>page</title>", "text/html", "page"},
		{"invalid utf8", "<title>bad \xff\xfe bytes</title>", "text/html; charset=utf-8", "bad \uFFFD bytes"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fetch.Title([]byte(tt.body), tt.contentType)
			if got != tt.want {
				t.Errorf("Title = %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Title %q is not valid UTF-8", got)
			}
			if _, err := json.Marshal(got); err != nil {
				t.Error(err)
			}
		})
	}
}

func ExampleTitle() {
	page := []byte(`<meta charset="iso-8859-1"><title>Caf` + "\xe9" + ` cr&egrave;me</title>`)
	fmt.Println(fetch.Title(page, "text/html"))
	// Output: Café crème
}
