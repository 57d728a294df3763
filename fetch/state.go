package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// StateDir is the one directory under a download directory where Run keeps
// what resuming needs: the bodies still being downloaded (part/) and a
// small database (state.db) of their validators and sizes. Finished files
// have no side files; nothing else is written beside them.
const StateDir = ".crew-fetch"

// ErrDirInUse reports a download directory that another Run (another crew
// fetch process, say) is using.
var ErrDirInUse = errors.New("download directory in use")

var filesBucket = []byte("files")

// record is what state.db keeps about a part file, keyed by the path of
// the file it becomes (relative to the download directory): the first
// response's validators and the size it announced, so that resuming can
// send If-Range and check the total. Complete files have no record (their
// validators are on the file: see validators.go), so the database holds
// only downloads in progress or interrupted. A download records its part
// when it stops short, or when it starts if it is large (in case it is
// killed).
type record struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Total        int64  `json:"total"` // expected size, -1 unknown
}

// state is a download directory's resume state. Reads go to the database
// directly; writes are queued to one goroutine that commits them in
// batches, so that a page fetched every few microseconds does not wait for
// a disk sync. A write lost to a kill only costs a re-download: a part file
// without its record resumes by size, a complete file without one is
// checked by size.
type state struct {
	root   *os.Root
	db     *bolt.DB
	writes chan stateWrite
	done   chan struct{}
	mu     sync.Mutex
	err    error // the first failed commit
}

type stateWrite struct {
	key string
	rec *record // nil deletes
}

// openState opens (creating) dir's state, failing with ErrDirInUse if
// another process holds it.
func openState(root *os.Root, dir string) (*state, error) {
	for _, d := range []string{StateDir, StateDir + "/part"} {
		if err := root.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("fetch: state in %s: %w", dir, err)
		}
		// bbolt opens by path: refuse a state directory that is a link.
		if fi, err := root.Lstat(d); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("fetch: state in %s: %s is not a directory", dir, filepath.Join(dir, d))
		}
	}
	dbPath := filepath.Join(dir, StateDir, "state.db")
	if fi, err := root.Lstat(StateDir + "/state.db"); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("fetch: %s is not a regular file", dbPath)
	}
	db, err := bolt.Open(dbPath, 0o644, &bolt.Options{Timeout: 200 * time.Millisecond, NoFreelistSync: true})
	if errors.Is(err, berrors.ErrTimeout) {
		who := "another process"
		if b, err := root.ReadFile(StateDir + "/pid"); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				who = "process " + strconv.Itoa(pid)
			}
		}
		return nil, fmt.Errorf("fetch: %w: %s is being downloaded into by %s", ErrDirInUse, dir, who)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch: state in %s: %w", dir, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(filesBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("fetch: state in %s: %w", dir, err)
	}
	_ = root.WriteFile(StateDir+"/pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	s := &state{root: root, db: db, writes: make(chan stateWrite, 1024), done: make(chan struct{})}
	go s.writer()
	return s, nil
}

// bigPart is the size from which a download records its part when it
// starts. A smaller one killed before it ends leaves a part file without a
// record, which resumes on size alone, as wget -c does.
const bigPart = 1 << 20

// partPath is where rel's body is written until it is complete: a name in
// StateDir/part derived from rel, so no URL can name it.
func partPath(rel string) string {
	sum := sha256.Sum256([]byte(rel))
	return StateDir + "/part/" + hex.EncodeToString(sum[:16])
}

// get returns rel's record, if any.
func (s *state) get(rel string) (record, bool) {
	var rec record
	var ok bool
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(filesBucket).Get([]byte(rel)); v != nil {
			ok = json.Unmarshal(v, &rec) == nil
		}
		return nil
	})
	if !ok {
		rec = record{Total: -1}
	}
	return rec, ok
}

// put queues rec as rel's record; a nil rec deletes it.
func (s *state) put(rel string, rec *record) { s.writes <- stateWrite{rel, rec} }

func (s *state) writer() {
	defer close(s.done)
	for w := range s.writes {
		batch := []stateWrite{w}
	drain:
		for len(batch) < 4096 {
			select {
			case w, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, w)
			default:
				break drain
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(filesBucket)
			for _, w := range batch {
				var err error
				if w.rec == nil {
					err = b.Delete([]byte(w.key))
				} else {
					v, _ := json.Marshal(w.rec)
					err = b.Put([]byte(w.key), v)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	}
}

// close commits what is queued and closes the database, returning the
// first error a commit met.
func (s *state) close() error {
	close(s.writes)
	<-s.done
	cerr := s.db.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("fetch: saving resume state: %w", s.err)
	}
	return cerr
}
