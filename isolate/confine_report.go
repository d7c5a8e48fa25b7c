//go:build linux && (amd64 || arm64) && cgo

package isolate

// noteConfinement records in the Report what the child's constructor
// and its drop made of the rest of its confinement: its uid, Landlock,
// and what failed.
func (iso *Isolator) noteConfinement(rep *reply) {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	iso.report.UID = int(rep.UID)
	iso.report.Landlock = int(rep.Landlock)
	if rep.Landlock == 0 {
		iso.report.Missing = append(iso.report.Missing, "landlock: not available in this kernel")
	}
	if rep.ConfineErr != "" {
		iso.report.Missing = append(iso.report.Missing, rep.ConfineErr)
	}
}
