// Package alert raises RAZAR's warning and critical alerts and resolves
// them: each one is a log line with a severity, a message on
// razar.alert.<severity>, an audit record (for a component), and, when
// configured, a JSON POST to a webhook and an alert in Alertmanager's v2
// API, labelled with the host and the RAZAR home so two RAZARs never share
// one. One cause is one alert (its fingerprint); a burst of raises updates
// its text. The open alerts are kept in a state file (state/alerts.json),
// so the next run's Reconcile resolves those whose cause ended while RAZAR
// was stopped.
//
// The orchestrator and the supervisor drive an Alerter through small
// interfaces of their own (Raise/RaiseNamed/Resolve); the host builds it
// and hands it to both.
//
// Concurrency: an Alerter is safe for concurrent use; its firing set is
// guarded by one mutex and the state file's writes are ordered by another.
// External deliveries and the Alertmanager re-sender run in goroutines the
// Alerter owns; Close stops the re-sender and waits for every delivery in
// flight.
package alert
