package orchestrator

// PatchHistoryFile, relative to the RAZAR home, is the logs/ file of patch
// verdicts. The log mirror (package mirror, which names the same file)
// writes it from the stream; the orchestrator reads it, and appends a
// rollback done while RAZAR was stopped (RecordRollbackOffline).
const PatchHistoryFile = "logs/patch_history.jsonl"
