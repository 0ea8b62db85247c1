# flowdoc: `make demo` builds and analyses a bundled capture; `make test`
# runs every test. Both install what they need first (see `deps`).

GO      ?= go
BIN     ?= bin/flowdoc
PKGS    := ./...
BENCHDIR ?= $(CURDIR)/bench-data

.PHONY: all build build-static demo test test-browser benchtool benchfile bench pgo soak fuzz lab deps browser clean

all: build

# libpcap's headers, for the live-capture build (cgo). A static
# CGO_ENABLED=0 build needs nothing.
deps:
	@if [ "$$(go env CGO_ENABLED)" = 1 ] && ! [ -f /usr/include/pcap/pcap.h ] && ! [ -f /usr/include/pcap.h ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "deps: installing libpcap-dev"; \
			(apt-get install -y -qq libpcap-dev >/dev/null 2>&1 || \
			 (apt-get update -qq >/dev/null && apt-get install -y -qq libpcap-dev >/dev/null)) || \
			{ echo "deps: apt-get install libpcap-dev failed; install it, or build with CGO_ENABLED=0"; exit 1; }; \
		else \
			echo "deps: libpcap headers missing: install libpcap-dev (Debian/Ubuntu) or libpcap-devel (Fedora), or build with CGO_ENABLED=0"; exit 1; \
		fi; \
	fi

# Chromium, for the test that opens the HTML report in a real browser.
# Best effort: without it that test skips and says why.
browser:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "browser: installing chromium for the HTML report's browser test"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1)) || \
		echo "browser: could not install chromium; the browser test will skip"; \
	fi

build: deps
	$(GO) build -o $(BIN) ./cmd/flowdoc

# A static binary that reads files only (no libpcap): for desktops.
build-static:
	CGO_ENABLED=0 $(GO) build -o $(BIN)-static ./cmd/flowdoc

demo: build
	./$(BIN) analyze testdata/keepalive-leak.pcap

test: deps browser
	@unformatted=$$(gofmt -l cmd flow analyze report testdata); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted (run gofmt -w):" $$unformatted; exit 1; fi
	$(GO) vet $(PKGS)
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/flowdoc
	@# The static binary is for Windows and Mac desktops too; 386 keeps
	@# sizes and counts honest where an int is 32 bits.
	CGO_ENABLED=0 GOOS=windows $(GO) build -o /dev/null ./cmd/flowdoc
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/flowdoc
	CGO_ENABLED=0 GOARCH=386 $(GO) build -o /dev/null ./cmd/flowdoc
	$(GO) test -count=1 $(PKGS)
	@# The race detector needs cgo: the reader and trackers run concurrently,
	@# and the analysis splits its work across CPUs.
	@if [ "$$($(GO) env CGO_ENABLED)" = 1 ]; then $(GO) test -count=1 -race ./flow ./analyze ./report; fi

# The HTML report in headless Chromium; the screenshot is left in
# bench-data/ to look at.
test-browser: browser
	@mkdir -p $(BENCHDIR)
	FLOWDOC_SCREENSHOT_DIR=$(BENCHDIR) $(GO) test -count=1 -run 'HTML' -v ./report
	@echo "screenshot: $(BENCHDIR)/keepalive-leak.png"

# The bench tool (capture generator, benchmark, soak) and its captures:
# the mixed capture the cross-check with tshark runs on, and the shapes of
# busy hosts: many connections leaked or open at the end, a SYN flood
# (unanswered, or answered with SYN cookies), a flood spread over a
# network, a scan of closed ports, and 200 k connections open at once.
BENCHPACKETS ?= 5000000
BENCHFILE = $(BENCHDIR)/synthetic-http-$(BENCHPACKETS).pcap
BENCHSHAPES = $(BENCHDIR)/leaky-$(BENCHPACKETS).pcap $(BENCHDIR)/synflood-1000000.pcap $(BENCHDIR)/cookies-1000000.pcap $(BENCHDIR)/carpet-1000000.pcap $(BENCHDIR)/rstscan-1000000.pcap $(BENCHDIR)/concurrent-800000.pcap
benchtool:
	@mkdir -p $(BENCHDIR)
	$(GO) build -o $(BENCHDIR)/bench ./cmd/tools/bench

# Each capture is made again when the generator (gen.go) changed since.
benchfile: benchtool
	@test $(BENCHFILE) -nt cmd/tools/bench/gen.go || $(BENCHDIR)/bench gen -packets $(BENCHPACKETS) -o $(BENCHFILE)
	@test $(BENCHDIR)/leaky-$(BENCHPACKETS).pcap -nt cmd/tools/bench/gen.go || $(BENCHDIR)/bench gen -shape leaky -packets $(BENCHPACKETS) -o $(BENCHDIR)/leaky-$(BENCHPACKETS).pcap
	@test $(BENCHDIR)/synflood-1000000.pcap -nt cmd/tools/bench/gen.go || $(BENCHDIR)/bench gen -shape synflood -packets 1000000 -o $(BENCHDIR)/synflood-1000000.pcap
	@test $(BENCHDIR)/cookies-1000000.pcap -nt cmd/tools/bench/gen.go || $(BENCHDIR)/bench gen -shape cookies -packets 1000000 -o $(BENCHDIR)/cookies-1000000.pcap
	@test $(BENCHDIR)/carpet-1000000.pcap -nt cmd/tools/bench/gen.go || $(BENCHDIR)/bench gen -shape carpet -packets 1000000 -o $(BENCHDIR)/carpet-1000000.pcap
	@test $(BENCHDIR)/rstscan-1000000.pcap -nt cmd/tools/bench/gen.go || $(BENCHDIR)/bench gen -shape rstscan -packets 1000000 -o $(BENCHDIR)/rstscan-1000000.pcap
	@test $(BENCHDIR)/concurrent-800000.pcap -nt cmd/tools/bench/gen.go || $(BENCHDIR)/bench gen -shape concurrent -packets 800000 -o $(BENCHDIR)/concurrent-800000.pcap

# Throughput and memory on synthetic captures of millions of packets,
# each against the bare read+decode loop measured in the same run (medians
# of five rounds) and, on the mixed capture, tshark.
bench: build benchfile
	$(BENCHDIR)/bench run -file $(BENCHFILE) -flowdoc ./$(BIN)
	@for f in $(BENCHSHAPES); do $(BENCHDIR)/bench run -tshark=false -file $$f -flowdoc ./$(BIN) || exit 1; done
	FLOWDOC_BENCH_FILE=$(BENCHFILE) $(GO) test -run '^$$' -bench . -benchtime 3x ./flow ./flow/packet

# The profile that guides the compiler's optimisation of flowdoc
# (cmd/flowdoc/default.pgo, which go build finds by itself): CPU profiles
# of the bench capture with HTTP read and without, merged. Refresh it when
# the per-packet path changes much, and measure before and after.
pgo: build benchfile
	./$(BIN) analyze --format json --progress never -o /dev/null --cpuprofile $(BENCHDIR)/pgo-http.prof $(BENCHFILE)
	./$(BIN) analyze --format json --no-payload --progress never -o /dev/null --cpuprofile $(BENCHDIR)/pgo-states.prof $(BENCHFILE)
	$(GO) tool pprof -proto $(BENCHDIR)/pgo-http.prof $(BENCHDIR)/pgo-states.prof > cmd/flowdoc/default.pgo

# flowdoc live on loopback under a bounded churn of real connections (up
# to SOAKRATE a second for SOAKTIME, and on, up to three times as long,
# until they outnumber the cap), once per --max-flows cap: its memory
# every 5 s, libpcap's drops (root), and the flows it kept, which must
# never be more than the cap.
SOAKRATE ?= 1000
SOAKTIME ?= 60s
SOAKCAPS ?= 5000,50000
soak: build benchtool
	$(BENCHDIR)/bench soak -flowdoc ./$(BIN) -duration $(SOAKTIME) -rate $(SOAKRATE) -max-flows $(SOAKCAPS)

FUZZTIME ?= 20s
# go test's 10-minute -timeout holds for fuzzing too: off, so that a
# FUZZTIME of an hour runs an hour (the fuzzer still fails an input that
# hangs for 10 s).
FUZZFLAGS = -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s -timeout 0
fuzz:
	$(GO) test ./flow/packet $(FUZZFLAGS) -fuzz '^FuzzDecode$$'
	$(GO) test ./flow $(FUZZFLAGS) -fuzz '^FuzzTracker$$'
	$(GO) test ./flow/packet $(FUZZFLAGS) -fuzz '^FuzzFastPath$$'
	$(GO) test ./flow $(FUZZFLAGS) -fuzz '^FuzzSource$$'
	$(GO) test ./flow $(FUZZFLAGS) -fuzz '^FuzzHTTP$$'
	$(GO) test ./report $(FUZZFLAGS) -fuzz '^FuzzReports$$'

# Re-record the lab captures and their ground truth (root; not in CI):
# the lab of flowdoc's own peers, then the lab of real software
# (testdata/real/, with its expectations).
lab:
	./testdata/lab/run.sh
	./testdata/lab/real.sh

clean:
	rm -rf bin $(BENCHDIR)
