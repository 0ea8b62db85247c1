// JdkPool is the java.net.http.HttpClient client of the real-software lab's
// jdk-httpclient scenario (testdata/lab/real.sh), run as a single-file
// source program: java JdkPool.java MODE URL N HOLD_S [GAP_MS...]
//
//   pool  one HttpClient (HTTP/1.1, its keep-alive pool) sending N GETs of
//         URL one after the other, waiting GAP_MS (in turn) between a
//         response and the next request: the pool reuses its idle
//         connection or, if it noticed the server's close, opens another.
//   unclosed  the same with BodyHandlers.ofInputStream: it reads the status
//         and the first 1024 bytes of the body and never reads on nor
//         closes the stream (the HttpClient has received the whole body
//         and returns the connection to its pool all the same).
//   urlconn   java.net.HttpURLConnection (the JDK's older client, its
//         KeepAliveCache): N GETs, GAP_MS apart, each response read to the
//         end and never closed nor disconnected (the cache takes the
//         connection back at the end of the body, and keeps it 5 s when
//         the server sends no Keep-Alive header).
//
// The API does not tell a request's local port: it prints "ROLE PORT" once
// with the server's port, and one line per request to stderr (status,
// connection reuse is not visible either; errors with their message).
// Bounded: N requests, then it holds HOLD_S seconds and exits.

import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

public class JdkPool {
	// Kept reachable: the leaked streams and the client.
	static final List<Object> kept = new ArrayList<>();

	public static void main(String[] args) throws Exception {
		String mode = args[0];
		URI uri = URI.create(args[1]);
		int n = Integer.parseInt(args[2]);
		long hold = Long.parseLong(args[3]);
		long[] gaps = new long[Math.max(1, args.length - 4)];
		gaps[0] = 1000;
		for (int i = 4; i < args.length; i++) {
			gaps[i - 4] = Long.parseLong(args[i]);
		}
		HttpClient c = HttpClient.newBuilder()
				.version(HttpClient.Version.HTTP_1_1)
				.connectTimeout(Duration.ofSeconds(5))
				.build();
		kept.add(c);
		long t0 = System.nanoTime();
		for (int i = 0; i < n; i++) {
			HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).GET().build();
			String at = String.format("%.3f", (System.nanoTime() - t0) / 1e9);
			try {
				if (mode.equals("urlconn")) {
					HttpURLConnection u = (HttpURLConnection) uri.toURL().openConnection();
					u.setConnectTimeout(5000);
					u.setReadTimeout(5000);
					int got = u.getInputStream().readAllBytes().length;
					kept.add(u); // never closed nor disconnected
					System.err.println("jdkpool " + mode + " " + i + " at " + at + " status " + u.getResponseCode() + " read " + got);
				} else if (mode.equals("unclosed")) {
					HttpResponse<InputStream> r = c.send(req, HttpResponse.BodyHandlers.ofInputStream());
					byte[] b = new byte[1024];
					int got = r.body().read(b);
					kept.add(r.body()); // never read on, never closed
					System.err.println("jdkpool " + mode + " " + i + " at " + at + " status " + r.statusCode() + " read " + got);
				} else {
					HttpResponse<String> r = c.send(req, HttpResponse.BodyHandlers.ofString());
					System.err.println("jdkpool " + mode + " " + i + " at " + at + " status " + r.statusCode());
				}
			} catch (Exception e) {
				System.err.println("jdkpool " + mode + " " + i + " at " + at + " " + e);
			}
			if (i == 0) {
				System.out.println(mode + " " + uri.getPort());
				System.out.flush();
			}
			if (i + 1 < n) {
				Thread.sleep(gaps[i % gaps.length]);
			}
		}
		Thread.sleep(hold * 1000);
		System.exit(0);
	}
}
