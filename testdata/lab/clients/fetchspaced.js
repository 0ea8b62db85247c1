// The Node.js fetch client of the node-fetch-undici scenario
// (testdata/lab/real.sh): Node's built-in fetch (undici, its global
// dispatcher: a keep-alive pool per origin, keepAliveTimeout 4 s, or the
// server's Keep-Alive: timeout= hint less a threshold).
//
//   node fetchspaced.js N HOLD_S GAP_MS,GAP_MS,... ROLE=URL...
//
// For each URL at once, N GETs one after the other, waiting the gaps in
// turn between a response (its body read to the end) and the next
// request, so that some requests come after the server closed the idle
// connection. fetch does not tell the local port: it prints "ROLE PORT"
// once per URL with the server's port, and one line per request to stderr
// (a failure with its cause: "other side closed", ECONNRESET). Bounded: N
// requests per URL, then it holds HOLD_S seconds and exits (60 s at most).
'use strict';
const [n, hold, gaps] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4].split(',').map(Number)];
const targets = process.argv.slice(5).map((a) => a.split(/=(.*)/s).slice(0, 2));
const t0 = Date.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(role, url) {
	for (let i = 0; i < n; i++) {
		const at = ((Date.now() - t0) / 1000).toFixed(3);
		try {
			const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
			await r.text();
			console.error('fetchspaced', role, i, 'at', at, 'status', r.status, 'keep-alive', r.headers.get('keep-alive'));
		} catch (e) {
			const c = e.cause || {};
			console.error('fetchspaced', role, i, 'at', at, 'error', e.message, c.code || '', c.message || '');
		}
		if (i === 0) console.log(role, new URL(url).port);
		if (i + 1 < n) await sleep(gaps[i % gaps.length]);
	}
}

Promise.all(targets.map(([role, url]) => run(role, url))).then(() => sleep(hold * 1000)).then(() => process.exit(0));
setTimeout(() => process.exit(0), 60000).unref();
