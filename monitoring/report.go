package monitoring

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints results as `razar verify-monitoring` shows them, one
// line per endpoint under a header, and returns each gap as "URL state"
// (none: every endpoint answered with series or is not configured).
func WriteTable(w io.Writer, results []Result) (gaps []string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENDPOINT\tSTATE\tSERIES\tDETAIL")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Name, r.URL, r.State, r.Series, r.Detail)
		if r.Gap() {
			gaps = append(gaps, r.URL+" "+r.State)
		}
	}
	tw.Flush()
	return gaps
}
