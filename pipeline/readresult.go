package pipeline

// ReadResultFile reads dir's result.json for reporting (status, the status
// page, notifications): a regular file inside dir, reached without a
// symlink and opened without blocking (a FIFO named result.json, which
// anyone who can write to the share can make, is refused at once, not
// waited on), of at most MaxResultBytes — scandrop writes none larger, and
// a larger one (not ours) is not read into memory. The error says why a
// file is refused, in a few words.
func ReadResultFile(dir string) ([]byte, error) {
	return readState(dir, ResultFile, MaxResultBytes)
}
