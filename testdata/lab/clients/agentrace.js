// The Node.js client of the node-keepalive-race scenario (testdata/lab/real.sh).
//
//   node agentrace.js HOST PORT AGENTS N LO HI [https]
//
// AGENTS http.Agents with keepAlive (one socket each) send N requests
// each, one after the other. Between a response and the next request each
// waits LO, LO+1, ... HI ms in turn (each agent starting elsewhere in the
// cycle), around the moment the server closes an idle connection: some
// requests go out on a socket the server has just closed. Prints "ROLE
// PORT" per request: fresh (a new connection), reused, or reset (a request
// on a reused socket that failed: ECONNRESET, socket hang up). Bounded in
// count and time: it exits when every agent is done, or after 60 s. With
// https, over TLS (https.Agent; the certificate is not verified).
'use strict';
const [host, port, agents, n, lo, hi] = process.argv.slice(2, 8).map((v, i) => (i ? Number(v) : v));
const tls = process.argv[8] === 'https';
const http = require(tls ? 'https' : 'http');

function run(a) {
	const agent = new http.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
	let i = 0;
	let last;
	const next = () => {
		if (++i >= n) {
			agent.destroy();
			return;
		}
		setTimeout(one, lo + ((i + a) % (hi - lo + 1)));
	};
	const one = () => {
		let sock;
		const req = http.get({ host, port, path: '/', agent }, (res) => {
			last = res.socket.localPort;
			res.resume();
			res.on('end', () => {
				console.log(req.reusedSocket ? 'reused' : 'fresh', last);
				next();
			});
		});
		req.setTimeout(5000, () => req.destroy(new Error('timeout')));
		req.on('socket', (s) => {
			sock = s;
		});
		req.on('error', (e) => {
			const p = (sock && sock.localPort) || last;
			console.log(req.reusedSocket ? 'reset' : 'error', p);
			console.error('agentrace', p, e.code, e.message);
			next();
		});
	};
	setTimeout(one, a * 100);
}

for (let a = 0; a < agents; a++) run(a);
setTimeout(() => process.exit(0), 60000).unref();
