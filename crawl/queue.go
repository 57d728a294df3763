package crawl

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// The queue and held buckets store items in chunks: one value holds up to
// chunkItems items admitted together, keyed by the first one's sequence
// number, so admitting the hundred links of a page is one write, not a
// hundred B+tree inserts. A chunk is a series of entries: uvarint
// sequence number, uvarint length, encodeItem.
const chunkItems = 256

func appendEntry(b []byte, it Item) []byte {
	b = binary.AppendUvarint(b, it.Seq)
	b = binary.AppendUvarint(b, uint64(tripleLen(uint64(it.Depth), it.URL, it.Parent)))
	return appendTriple(b, uint64(it.Depth), it.URL, it.Parent)
}

// decodeChunk returns the items of a chunk, in order.
func decodeChunk(v []byte) ([]Item, error) {
	var items []Item
	for len(v) > 0 {
		seq, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, errCorrupt
		}
		v = v[n:]
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return nil, errCorrupt
		}
		it, err := decodeItem(seqKey(seq), v[n:n+int(l)])
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		v = v[n+int(l):]
	}
	return items, nil
}

// putChunks stores items (in sequence order) as chunks.
func putChunks(b *bolt.Bucket, items []Item) error {
	for len(items) > 0 {
		n := min(len(items), chunkItems)
		size := 0
		for _, it := range items[:n] {
			size += 2*binary.MaxVarintLen64 + len(it.URL) + len(it.Parent)
		}
		v := make([]byte, 0, size)
		for _, it := range items[:n] {
			v = appendEntry(v, it)
		}
		if err := b.Put(seqKey(items[0].Seq), v); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}
