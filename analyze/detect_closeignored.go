package analyze

// Connection: close ignored: from the HTTP in the payload (http.go).
var closeIgnoredDetector = detector{
	class: CloseIgnored,
	explain: Explanation{
		Class: CloseIgnored, Title: "Connection: close ignored",
		Meaning: "The server answered a request with Connection: close (it will close the connection after the " +
			"response), yet the client sent another request on the same connection. That request is lost: the " +
			"server has closed, or answers with RST.",
		Detection: "HTTP read from the payload: a request on a connection after a response carrying Connection: close.",
		Causes: "A hand-written or pooled HTTP client that does not honour Connection: close and returns the " +
			"connection to its pool anyway.",
		Confirm: "Client errors on the request after a Connection: close response (connection reset, empty reply).",
		Fix:     "Honour Connection: close: close the connection after that response and never return it to the pool.",
	},
	inspect: func(c *flowCtx) {
		if v, ok := closeIgnored(c.r, c.pb); ok {
			c.add(v)
		}
	},
	group: func(f *Flow, _ *Verdict) (groupKey, bool) {
		return groupKey{host: f.Key.Client().Addr(), endpoint: f.Key.Server()}, true
	},
	findings: func(g *group, _ *findCtx) []Finding { return []Finding{closeIgnoredFinding(g)} },
}
