package statuspage

import (
	"html/template"
	"io"
	"net/http"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/cut"
)

// WriteHTML writes the incident's view as a page that fits a phone. Every
// text in it is escaped by html/template.
func WriteHTML(w io.Writer, inc *Incident) error {
	return incidentTemplate.Execute(w, inc)
}

// NotFound answers 404 with a page that says which incident is unknown
// and where its records may still be.
func NotFound(w http.ResponseWriter, id, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_ = notFoundTemplate.Execute(w, struct{ ID, Why string }{cut.Head(cut.Clean(id), 64, "…"), why})
}

var funcs = template.FuncMap{
	"when":   when,
	"tokens": func(u *razar.Usage) string { return tokens(u) },
	"short":  short,
	"clean":  cut.Clean,
	"total":  Total,
	"pending": func(s string) string {
		if s == "" {
			return "pending"
		}
		return s
	},
	"since": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
}

const style = `<style>
body{font:15px/1.4 system-ui,sans-serif;margin:0;padding:12px;background:#fafafa;color:#222}
h1{font-size:20px;margin:0 0 8px} h2{font-size:16px;margin:18px 0 6px} h3{font-size:14px;margin:10px 0 4px}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:6px}
td,th{border-bottom:1px solid #e0e0e0;padding:4px 6px;text-align:left;vertical-align:top}
th{font-weight:600;background:#f0f0f0}
pre{background:#fff;border:1px solid #e0e0e0;padding:6px;overflow-x:auto;white-space:pre;font-size:13px}
code{background:#eee;padding:1px 4px;border-radius:3px}
.attempt{border-left:4px solid #bbb;padding-left:8px;margin:14px 0}
.o-healed{border-color:#2e7d32}.o-rejected,.o-failed,.o-error,.o-timeout{border-color:#c62828}.o-no_fix{border-color:#ef6c00}
.small{color:#666;font-size:13px}.refused{color:#c62828}
</style>`

var incidentTemplate = template.Must(template.New("incident").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RAZAR: incident {{.ID}}</title>` + style + `</head><body>
<p class="small"><a href="/">← status</a></p>
<h1>Incident {{.ID}}</h1>
<table>
<tr><th>component</th><td>{{.Component}}</td></tr>
<tr><th>state</th><td>{{.State}}{{with .Reason}}: {{.}}{{end}}</td></tr>
<tr><th>opened</th><td>{{when .Opened}} ({{since .Opened}})</td></tr>
<tr><th>tokens</th><td>{{tokens .Tokens}}</td></tr>
{{with .Pending}}<tr><th>now</th><td>attempt {{.Attempt}} by {{.Rung}}, until {{when .Deadline}}</td></tr>{{end}}
</table>
{{with .Error}}<h2>The failure</h2><pre>{{clean .}}</pre>{{end}}
{{if not .Stored}}<p class="small">Its key has expired from RAZAR_STATE: this view is built from its audit records.</p>{{end}}
{{if .Truncated}}<p class="small">Cut short: the incident has more records than a page shows. <code>razar audit --incident {{.ID}} --json</code> prints them all.</p>{{end}}
<h2>Attempts</h2>
{{range .Attempts}}<div class="attempt o-{{.Outcome}}" id="attempt-{{.Number}}">
<h3>Attempt {{.Number}} · {{.Display}}{{if ne .Display .Rung}} ({{.Rung}}){{end}} · pass {{.Pass}} · {{pending .Outcome}}</h3>
<table>
{{with .From}}<tr><th>handed over from</th><td>{{.}}</td></tr>{{end}}
<tr><th>started</th><td>{{when .Started}}{{if not .Ended.IsZero}}, ended {{when .Ended}}{{end}}</td></tr>
<tr><th>tokens</th><td>{{tokens .Usage}}</td></tr>
{{with .Summary}}<tr><th>summary</th><td>{{clean .}}</td></tr>{{end}}
{{with .Error}}<tr><th>error</th><td>{{clean .}}</td></tr>{{end}}
{{with .Reason}}<tr><th>reason</th><td>{{clean .}}</td></tr>{{end}}
</table>
<p><b>Files shown</b>{{if .Shown}} ({{len .Shown}}, {{.ShownBytes}} bytes){{end}}</p>
{{if .Shown}}<table class="shown"><tr><th>path</th><th>bytes</th><th>sha256</th><th>why</th></tr>
{{range .Shown}}<tr><td><code>{{.Path}}</code></td><td>{{.Bytes}}{{if .Truncated}} (cut){{end}}</td><td><code>{{short .SHA256}}</code></td><td>{{.Why}}</td></tr>
{{end}}</table>{{else}}<p class="small">no file texts</p>{{end}}
<p><b>Tool calls</b>{{if .Calls}} ({{len .Calls}}){{end}}</p>
{{if .Calls}}<table class="calls"><tr><th>time</th><th>op</th><th>path</th><th>bytes</th><th>verdict</th></tr>
{{range .Calls}}<tr><td class="small">{{when .Time}}</td><td>{{.Op}}</td><td><code>{{.Path}}</code></td><td>{{.Bytes}}</td><td{{if ne .Verdict "ok"}} class="refused"{{end}}>{{.Verdict}}{{if ne .Verdict "ok"}}{{with .Reason}}: {{clean .}}{{end}}{{end}}</td></tr>
{{end}}</table>{{else}}<p class="small">none</p>{{end}}
{{range .Patches}}<p><b>Patch {{.ID}}</b>: validation {{.Validation}}{{with .Reason}}: {{clean .}}{{end}}</p>
{{with .Note}}<p class="small">{{.}}</p>{{end}}
<ul class="placement">{{range .Placement}}<li>{{.}}</li>{{else}}{{if .Diff}}<li class="small">every hunk applied as written</li>{{end}}{{end}}</ul>
{{if .Steps}}<ul>{{range .Steps}}<li><span class="small">{{when .Time}}</span> {{clean .Text}}</li>{{end}}</ul>{{end}}
{{with .OutputTail}}<p class="small">validator output</p><pre>{{clean .}}</pre>{{end}}
{{with .Diff}}<pre class="diff">{{clean .}}</pre>{{end}}
{{end}}
{{if and (not .Patches) .Diff}}<p class="small">diff (not placed)</p><pre class="diff">{{clean .Diff}}</pre>{{end}}
</div>
{{else}}<p class="small">no attempt yet</p>{{end}}
{{if .Events}}<h2>The incident</h2>
<table>{{range .Events}}<tr><td class="small">{{when .Time}}</td><td>{{clean .Text}}</td></tr>{{end}}</table>{{end}}
<p class="small">In a terminal: <code>razar audit --incident {{.ID}}</code></p>
</body></html>
`))

var notFoundTemplate = template.Must(template.New("notfound").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RAZAR: no such incident</title>` + style + `</head><body>
<p class="small"><a href="/">← status</a></p>
<h1>No incident {{.ID}}</h1>
<p>{{.Why}}</p>
<p class="small">Incident ids look like <code>inc-20260102-150405-a1b2c3</code>; the status page links to the open and recent ones, and <code>razar audit --since 2d</code> lists the older ones.</p>
</body></html>
`))
