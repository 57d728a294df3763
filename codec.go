package crew

import (
	"encoding/json"
	"strconv"
)

// Chunks of tiny tasks spend most of their time in the codec, and most
// tiny tasks take and return ints or strings. For slices of those,
// appendArray and decodeArray encode and parse JSON arrays by hand,
// producing and accepting exactly what encoding/json would; anything else
// (other types, whitespace, escapes, null, overflow) goes to
// encoding/json, which also reports the errors.

// appendArray appends vs to buf as a JSON array.
func appendArray[T any](buf []byte, vs []T) ([]byte, error) {
	switch s := any(vs).(type) {
	case []int:
		return appendInts(buf, s), nil
	case []int64:
		return appendInts(buf, s), nil
	case []string:
		if out, ok := appendPlainStrings(buf, s); ok {
			return out, nil
		}
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return buf, err
	}
	return append(buf, b...), nil
}

func appendInts[I int | int64](buf []byte, vs []I) []byte {
	buf = append(buf, '[')
	for i, v := range vs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(v), 10)
	}
	return append(buf, ']')
}

// appendPlainStrings encodes strings of printable ASCII that
// encoding/json leaves unescaped; it reports false for any other.
func appendPlainStrings(buf []byte, vs []string) ([]byte, bool) {
	start := len(buf)
	buf = append(buf, '[')
	for i, v := range vs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		for k := 0; k < len(v); k++ {
			if !plain(v[k]) {
				return buf[:start], false
			}
		}
		buf = append(buf, v...)
		buf = append(buf, '"')
	}
	return append(buf, ']'), true
}

// plain reports whether encoding/json writes c as itself inside a string
// (it escapes quotes, backslashes, control bytes and, for HTML safety,
// <, > and &).
func plain(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// decodeArray decodes data, a JSON array, into dst[:0], appending; the
// result shares dst's array while it has room.
func decodeArray[T any](data []byte, dst []T) ([]T, error) {
	switch s := any(dst).(type) {
	case []int:
		if out, ok := parseInts(data, s, strconv.IntSize); ok {
			return any(out).([]T), nil
		}
	case []int64:
		if out, ok := parseInts(data, s, 64); ok {
			return any(out).([]T), nil
		}
	case []string:
		if out, ok := parsePlainStrings(data, s); ok {
			return any(out).([]T), nil
		}
	}
	dst = dst[:0]
	err := json.Unmarshal(data, &dst)
	return dst, err
}

// parseInts parses a JSON array of integers written without whitespace
// (as encoding/json writes them); it reports false for anything else.
func parseInts[I int | int64](data []byte, dst []I, bits int) ([]I, bool) {
	dst = dst[:0]
	body, ok := arrayBody(data)
	if !ok || len(body) == 0 {
		return dst, ok
	}
	for {
		end := 0
		if end < len(body) && body[end] == '-' {
			end++
		}
		digits := end
		for end < len(body) && body[end] >= '0' && body[end] <= '9' {
			end++
		}
		// JSON forbids leading zeros; encoding/json rejects them.
		if end == digits || (body[digits] == '0' && end-digits > 1) {
			return dst, false
		}
		v, ok := parseInt(body[:end], bits)
		if !ok {
			return dst, false
		}
		dst = append(dst, I(v))
		if end == len(body) {
			return dst, true
		}
		if body[end] != ',' {
			return dst, false
		}
		body = body[end+1:]
	}
}

// arrayBody returns what stands between a JSON array's brackets.
func arrayBody(data []byte) ([]byte, bool) {
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	return data[1 : len(data)-1], true
}

// parseInt parses an optional minus and decimal digits into a signed
// integer of the given bits; it reports false if the value overflows.
func parseInt(b []byte, bits int) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		u = u*10 + uint64(c-'0') // 19 digits fit in a uint64
	}
	limit := uint64(1) << (bits - 1)
	if neg {
		if u > limit {
			return 0, false
		}
		return -int64(u), true
	}
	if u >= limit {
		return 0, false
	}
	return int64(u), true
}

// parsePlainStrings parses a JSON array of strings without escapes or
// whitespace; it reports false for anything else.
func parsePlainStrings(data []byte, dst []string) ([]string, bool) {
	dst = dst[:0]
	body, ok := arrayBody(data)
	if !ok || len(body) == 0 {
		return dst, ok
	}
	for {
		if len(body) < 2 || body[0] != '"' {
			return dst, false
		}
		end := 1
		for end < len(body) && body[end] != '"' {
			// Printable ASCII only: escapes and UTF-8 go to encoding/json,
			// which validates and replaces as it does everywhere.
			if c := body[end]; c < 0x20 || c >= 0x7f || c == '\\' {
				return dst, false
			}
			end++
		}
		if end == len(body) {
			return dst, false
		}
		dst = append(dst, string(body[1:end]))
		end++
		if end == len(body) {
			return dst, true
		}
		if body[end] != ',' {
			return dst, false
		}
		body = body[end+1:]
	}
}
