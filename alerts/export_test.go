package alerts

// NewReferenceEngine is an engine that sorts every window it reads (the
// engine before its sorted windows), for tests outside the package to
// compare against.
func NewReferenceEngine(set *RuleSet, info func(patient string) PatientInfo) *Engine {
	e := NewEngine(set, info)
	e.reference = true
	return e
}
