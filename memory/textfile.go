package memory

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/internal/homedir"
)

// The gauges of the runbook, in the order the file holds them.
const (
	MetricDuration    = "razar_memory_init_duration_seconds"
	MetricLayers      = "razar_memory_init_layer_total"
	MetricReady       = "razar_memory_init_layer_ready_total"
	MetricFailed      = "razar_memory_init_layer_failed_total"
	MetricError       = "razar_memory_init_error"
	MetricInvocations = "razar_memory_init_invocations_total"
)

type family struct {
	name, help, typ string
}

var families = []family{
	{MetricDuration, "Wall-clock seconds of the last memory bundle initialization pass.", "gauge"},
	{MetricLayers, "Layers the memory bundle reported in the last initialization pass.", "gauge"},
	{MetricReady, "Layers whose status was exactly ready in the last initialization pass.", "gauge"},
	{MetricFailed, "Layers whose status was not ready in the last initialization pass.", "gauge"},
	{MetricError, "1 when the last initialization pass erred or any layer failed, else 0.", "gauge"},
	{MetricInvocations, "Memory bundle initialization passes, by entry point, across restarts.", "counter"},
}

// The audit's gauges, per layer, replaced whole by each audit.
const (
	MetricAuditItems    = "razar_memory_audit_items"
	MetricAuditVerified = "razar_memory_audit_verified"
	MetricAuditFailed   = "razar_memory_audit_failed"
	MetricAuditDuration = "razar_memory_audit_duration_seconds"
	MetricAuditTime     = "razar_memory_audit_last_run_timestamp_seconds"
)

var auditFamilies = []family{
	{MetricAuditItems, "Items the last memory audit wrote through each layer.", "gauge"},
	{MetricAuditVerified, "Items of the last memory audit read back with their SHA-256 digest intact, per layer.", "gauge"},
	{MetricAuditFailed, "Items of the last memory audit that failed to write, read back or verify, per layer.", "gauge"},
	{MetricAuditDuration, "Seconds the last memory audit spent on each layer.", "gauge"},
	{MetricAuditTime, "Unix time the last memory audit ended.", "gauge"},
}

func isAudit(name string) bool {
	for _, f := range auditFamilies {
		if f.name == name {
			return true
		}
	}
	return false
}

// sample is one sample line of the textfile, kept as written.
type sample struct {
	name, source, line string
	value              float64
}

// textfile is a parsed metrics file: our families' samples, and every other
// family's lines (HELP, TYPE, samples) in their order, kept as written.
type textfile struct {
	ours   map[string][]sample // by family name
	others []other             // lines of families that are not ours
}

// other is a line of a family that is not the init pass's, kept as written.
type other struct{ name, line string }

var (
	sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?[0-9]+)?$`)
	labelRE  = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)`)
	metaRE   = regexp.MustCompile(`^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(\s.*)?$`)
)

func ours(name string) bool {
	for _, f := range families {
		if f.name == name {
			return true
		}
	}
	return false
}

// parseLabels parses {a="x",b="y"}.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	for strings.TrimSpace(s) != "" {
		m := labelRE.FindStringSubmatch(s)
		if m == nil {
			return nil, fmt.Errorf("bad labels {%s}", s)
		}
		v, err := strconv.Unquote(`"` + m[2] + `"`)
		if err != nil {
			return nil, fmt.Errorf("bad label value %q", m[2])
		}
		out[m[1]] = v
		s = s[len(m[0]):]
	}
	return out, nil
}

// parseTextfile parses a file in the text exposition format, or says why not.
func parseTextfile(data []byte) (*textfile, error) {
	tf := &textfile{ours: map[string][]sample{}}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case strings.HasPrefix(trimmed, "#"):
			m := metaRE.FindStringSubmatch(trimmed)
			if m == nil {
				continue // a plain comment
			}
			if !ours(m[2]) {
				tf.others = append(tf.others, other{m[2], line})
			}
			continue
		}
		m := sampleRE.FindStringSubmatch(trimmed)
		if m == nil {
			return nil, fmt.Errorf("line %d is not a sample: %q", i+1, clip(line))
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q is not a number", i+1, clip(m[3]))
		}
		labels, err := parseLabels(m[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if !ours(m[1]) {
			tf.others = append(tf.others, other{m[1], line})
			continue
		}
		src, ok := labels["source"]
		if !ok {
			return nil, fmt.Errorf("line %d: %s has no source label", i+1, m[1])
		}
		tf.ours[m[1]] = append(tf.ours[m[1]], sample{name: m[1], source: src, line: trimmed, value: v})
	}
	return tf, nil
}

// clip shortens a line of the file to at most 60 bytes for a message.
func clip(s string) string {
	if len(s) <= 60 {
		return s
	}
	return cut.Head(s, 57, "...")
}

// invocations is the invocation count the file holds for source, or 0.
func (tf *textfile) invocations(source string) float64 {
	for _, s := range tf.ours[MetricInvocations] {
		if s.source == source && !math.IsNaN(s.value) && s.value >= 0 {
			return s.value
		}
	}
	return 0
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// render writes the file: the init pass's families first, each with HELP
// and TYPE and its samples (other sources' lines as they were, then r's
// new one; r may be nil), then every other family's lines as they were.
func (tf *textfile) render(r *Result) []byte {
	var values map[string]float64
	if r != nil {
		errv := 0.0
		if r.Errored() {
			errv = 1
		}
		values = map[string]float64{
			MetricDuration:    r.Duration.Seconds(),
			MetricLayers:      float64(len(r.Layers)),
			MetricReady:       float64(r.Ready()),
			MetricFailed:      float64(r.Failed()),
			MetricError:       errv,
			MetricInvocations: tf.invocations(r.Source) + 1,
		}
	}
	var b bytes.Buffer
	for _, f := range families {
		var lines []string
		for _, s := range tf.ours[f.name] {
			if r == nil || s.source != r.Source {
				lines = append(lines, s.line)
			}
		}
		if r != nil {
			lines = append(lines, fmt.Sprintf("%s{source=%q} %s", f.name, r.Source, formatValue(values[f.name])))
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	for _, o := range tf.others {
		b.WriteString(o.line + "\n")
	}
	return b.Bytes()
}

// WriteMetrics records the pass in the textfile at path, atomically: the
// gauges of r.Source are replaced, its invocation count read back and
// incremented, and every other source's lines (and any other family) are
// kept as they were. A file that does not parse is replaced, and warn is
// told why; the invocation count then starts again.
func WriteMetrics(path string, r *Result, warn func(string)) error {
	return homedir.WriteAtomic(path, readTextfile(path, warn).render(r), 0o644)
}

// WriteAuditMetrics records an audit in the textfile at path, atomically:
// the razar_memory_audit_* families are replaced by rep's, per layer; every
// other line is kept as it was (a file that does not parse is replaced,
// and warn told why).
func WriteAuditMetrics(path string, rep *AuditReport, end time.Time, warn func(string)) error {
	tf := readTextfile(path, warn)
	kept := tf.others[:0]
	for _, o := range tf.others {
		if !isAudit(o.name) {
			kept = append(kept, o)
		}
	}
	tf.others = kept
	var b bytes.Buffer
	b.Write(tf.render(nil))
	for _, f := range auditFamilies {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		if f.name == MetricAuditTime {
			fmt.Fprintf(&b, "%s %s\n", f.name, formatValue(float64(end.UnixMilli())/1000))
			continue
		}
		for _, l := range rep.Layers {
			v := map[string]float64{MetricAuditItems: float64(rep.Items), MetricAuditVerified: float64(l.Verified),
				MetricAuditFailed: float64(l.Failed), MetricAuditDuration: l.Duration}[f.name]
			fmt.Fprintf(&b, "%s{layer=%q} %s\n", f.name, l.Layer, formatValue(v))
		}
	}
	return homedir.WriteAtomic(path, b.Bytes(), 0o644)
}

// readTextfile parses the file at path; a missing file, or one that is not
// a textfile (warn is told), is an empty one.
func readTextfile(path string, warn func(string)) *textfile {
	tf := &textfile{ours: map[string][]sample{}}
	data, err := readNoFollow(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		if warn != nil {
			warn(fmt.Sprintf("%s: %v; writing a new one", path, err))
		}
	default:
		parsed, perr := parseTextfile(data)
		if perr != nil {
			if warn != nil {
				warn(fmt.Sprintf("%s is not a metrics textfile (%v); replacing it, invocation counts start again", path, perr))
			}
		} else {
			tf = parsed
		}
	}
	return tf
}

// readNoFollow reads path, refusing a symlink.
func readNoFollow(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return os.ReadFile(path)
}
