package analyze

// Explanation is what flowdoc knows about a class: what it means, how it
// is detected, what usually causes it, how to confirm it on the host and
// how to fix it. `flowdoc explain` prints it; findings take their remedy
// from Fix.
type Explanation struct {
	Class     Class
	Title     string
	Meaning   string
	Detection string
	Causes    string
	Confirm   string
	Fix       string
}

// Explain returns the explanation of c, or false for an unknown class.
func Explain(c Class) (Explanation, bool) {
	if d := detectorOf(c); d != nil {
		return d.explain, true
	}
	return Explanation{}, false
}

// Explanations lists every class, verdicts first.
func Explanations() []Explanation { return explanations() }

// explanations are the detectors' own, in their order.
func explanations() []Explanation {
	out := make([]Explanation, 0, len(detectors))
	for _, d := range detectors {
		out = append(out, d.explain)
	}
	return out
}
