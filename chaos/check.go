package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/mirror"
)

// Report is what Check found: the counts a chaos table row shows and one
// line per violated invariant.
type Report struct {
	Incidents  int // incidents on the stream or in the bucket
	EndedOnce  int // incidents with exactly one terminal record per opening (reopenings count) that the bucket agrees with
	Lost       int // mirrored records on the stream missing from logs/, or in logs/ but not on the stream
	Duplicated int // a stream sequence twice in logs/, or a message id twice on the stream
	Torn       int // logs/ lines that do not parse as JSON
	Orphans    int // component processes nobody supervises (Procs)
	Doubled    int // extra processes of one component (Procs)
	Problems   []string
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// terminal maps the audit events that end an incident to the state they
// leave in its bucket record.
var terminal = map[bus.Event]string{
	bus.EventHealed:  "healed",
	bus.EventFailed:  "failed",
	bus.EventAborted: "aborted",
}

// Check compares the three records of what happened in home: stream RAZAR
// (read from st, every audit record), the incident records in bucket
// RAZAR_STATE, and the mirror's JSON-lines files under home/logs (each
// with its rotated copies). Call it with RAZAR stopped, so the mirror has
// flushed. It fails only when the store cannot be read.
func Check(ctx context.Context, st *jetstream.Store, home string) (*Report, error) {
	r := &Report{}
	ends := map[string][]string{} // incident: terminal events on the stream
	opened := map[string]bool{}
	reopened := map[string]int{}       // incident: its reopened records (a heal that did not hold)
	ids := map[string]uint64{}         // message id: first sequence
	onStream := map[uint64]bus.Event{} // sequence of every mirrored record
	for seq := uint64(1); ; seq++ {
		msg, err := st.Next(ctx, bus.AuditAll, seq)
		if err != nil {
			return nil, err
		}
		if msg == nil {
			break
		}
		seq = msg.Seq
		var rec bus.AuditRecord
		if err := bus.Decode(msg.Data, &rec); err != nil {
			r.problem("stream seq %d (%s) does not decode: %v", msg.Seq, msg.Subject, err)
			continue
		}
		if msg.MsgID != "" {
			if first, ok := ids[msg.MsgID]; ok {
				r.Duplicated++
				r.problem("message id %s on the stream twice: seq %d and %d", msg.MsgID, first, msg.Seq)
			} else {
				ids[msg.MsgID] = msg.Seq
			}
		}
		if rec.Incident != "" && rec.Event == bus.EventOpened {
			opened[rec.Incident] = true
		}
		if rec.Incident != "" && rec.Event == bus.EventReopened {
			reopened[rec.Incident]++
		}
		if _, ok := terminal[rec.Event]; ok && rec.Incident != "" {
			ends[rec.Incident] = append(ends[rec.Incident], string(rec.Event))
		}
		if mirror.File(rec.Event) != "" {
			onStream[msg.Seq] = rec.Event
		}
	}

	recs, err := st.Incidents(ctx, func(key string, err error) { r.problem("bucket record %s does not decode: %v", key, err) })
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for _, rec := range recs {
		kv[rec.ID] = string(rec.State)
	}
	all := map[string]bool{}
	for id := range opened {
		all[id] = true
	}
	for id := range kv {
		all[id] = true
	}
	for id := range ends {
		all[id] = true
	}
	r.Incidents = len(all)
	for _, id := range sorted(all) {
		e := ends[id]
		state, inKV := kv[id]
		// A reopened incident ends once more per reopening; the bucket
		// agrees with its last end.
		want := 1 + reopened[id]
		switch {
		case len(e) != want:
			r.problem("incident %s has %d terminal records on the stream (%s), want %d", id, len(e), strings.Join(e, ", "), want)
		case !inKV:
			r.problem("incident %s ended %s on the stream but has no bucket record", id, e[len(e)-1])
		case state != e[len(e)-1]:
			r.problem("incident %s ended %s on the stream but its bucket record says %s", id, e[len(e)-1], state)
		case !opened[id]:
			r.problem("incident %s ended with no opened record on the stream", id)
		default:
			r.EndedOnce++
		}
	}

	inLogs := map[uint64]string{}
	offline := map[string]string{} // component/patch: the line of an offline rollback's record
	for _, file := range mirror.Files() {
		paths, _ := filepath.Glob(filepath.Join(home, file) + "*")
		for _, p := range paths {
			if p != filepath.Join(home, file) {
				if _, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(p), ".")); err != nil {
					continue // not a rotated copy
				}
			}
			if err := readLines(r, p, inLogs, offline, onStream); err != nil {
				return nil, err
			}
		}
	}
	for _, seq := range sortedSeqs(onStream) {
		if _, ok := inLogs[seq]; !ok {
			r.Lost++
			r.problem("stream seq %d (%s) is not in logs/", seq, onStream[seq])
		}
	}
	return r, nil
}

// readLines adds the sequences of file's lines to inLogs (and offline
// rollbacks' records to offline) and counts torn, duplicated and unknown
// lines.
func readLines(r *Report, path string, inLogs map[uint64]string, offline map[string]string, onStream map[uint64]bus.Event) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	name := filepath.Base(path)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		r.Torn++
		r.problem("%s does not end with a newline: its last line is torn", name)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec bus.AuditRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			r.Torn++
			r.problem("%s line %d is not JSON: %v", name, n, err)
			continue
		}
		if rec.Seq == 0 && rec.Event == bus.EventReverted && rec.Incident == "" {
			// `razar rollback-patch` with RAZAR stopped writes its record
			// here only (orchestrator.RecordRollbackOffline): once per
			// rollback, and never on the stream.
			key := rec.Component + "/" + rec.PatchID
			if prev, ok := offline[key]; ok {
				r.Duplicated++
				r.problem("the rollback of %s is in logs/ twice: %s and %s line %d", key, prev, name, n)
			}
			offline[key] = fmt.Sprintf("%s line %d", name, n)
			continue
		}
		if prev, ok := inLogs[rec.Seq]; ok {
			r.Duplicated++
			r.problem("seq %d in logs/ twice: %s and %s line %d", rec.Seq, prev, name, n)
			continue
		}
		inLogs[rec.Seq] = fmt.Sprintf("%s line %d", name, n)
		if ev, ok := onStream[rec.Seq]; !ok || ev != rec.Event {
			r.Lost++
			r.problem("%s line %d (seq %d, %s) is not on the stream as such", name, n, rec.Seq, rec.Event)
		}
	}
	return sc.Err()
}

// Procs counts the live processes of each component, found by a marker
// unique to it: a process whose last command-line argument is the marker
// (its command's `exec sleep 600 <marker>`). With RAZAR running
// (supervised maps each component to the pid RAZAR says it runs), each
// component must have exactly that one process; with RAZAR stopped
// (supervised nil), none. It adds to r's Orphans and Doubled.
func Procs(r *Report, markers map[string]string, supervised map[string]int) {
	live := livePIDs(markers)
	for _, comp := range sortedKeys(markers) {
		pids := live[comp]
		if supervised == nil {
			if len(pids) > 0 {
				r.Orphans += len(pids)
				r.problem("component %s: %d processes %v outlived RAZAR", comp, len(pids), pids)
			}
			continue
		}
		if len(pids) > 1 {
			r.Doubled += len(pids) - 1
			r.problem("component %s runs %d processes %v, want 1", comp, len(pids), pids)
		}
		if len(pids) == 0 {
			r.problem("component %s has no live process", comp)
		}
		for _, pid := range pids {
			if pid != supervised[comp] {
				r.Orphans++
				r.problem("component %s: process %d is not the one RAZAR supervises (%d)", comp, pid, supervised[comp])
			}
		}
	}
}

// livePIDs returns the live (not zombie) processes of each component.
func livePIDs(markers map[string]string) map[string][]int {
	byMarker := map[string]string{}
	for comp, m := range markers {
		byMarker[m] = comp
	}
	out := map[string][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		comp, ok := byMarker[args[len(args)-1]]
		if !ok || filepath.Base(args[0]) != "sleep" || zombie(pid) {
			continue
		}
		out[comp] = append(out[comp], pid)
	}
	for _, pids := range out {
		sort.Ints(pids)
	}
	return out
}

func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // gone
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedSeqs(m map[uint64]bus.Event) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
