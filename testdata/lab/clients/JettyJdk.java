// JettyJdk is the JDK client of the real-software lab's jetty-idle scenario
// (testdata/lab/real.sh), run as a single-file source program:
//
//	java JettyJdk.java MODE ROLE URL START HOLD_S GAP_MS...
//
//   pool     one java.net.http.HttpClient (HTTP/1.1; its pool keeps an idle
//            connection jdk.httpclient.keepalive.timeout, 1200 s by
//            default, and watches it for the server's close): a GET of URL
//            at START (seconds since the epoch), then one more GAP_MS after
//            each response (in turn).
//   urlconn  java.net.HttpURLConnection (its KeepAliveCache keeps an idle
//            connection 5 s when the server sends no Keep-Alive header,
//            without watching it): the same, each response read to the end,
//            the connection never disconnected.
//
// Every request carries "User-Agent: lab-ROLE": neither API tells the local
// port, and the lab finds the connections by it in the capture. One line a
// request to stderr: when it was sent and done (s after START), its status
// or the error. Bounded: the requests, then HOLD_S seconds, then it exits.

import java.net.HttpURLConnection;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

public class JettyJdk {
	// Kept reachable: the client and the connections never disconnected.
	static final List<Object> kept = new ArrayList<>();

	public static void main(String[] args) throws Exception {
		String mode = args[0], role = args[1];
		URI uri = URI.create(args[2]);
		double start = Double.parseDouble(args[3]);
		long hold = Long.parseLong(args[4]);
		HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
				.connectTimeout(Duration.ofSeconds(5)).build();
		kept.add(c);
		long wait = (long) (start * 1000) - System.currentTimeMillis();
		if (wait > 0) {
			Thread.sleep(wait);
		}
		for (int i = 5; i <= args.length; i++) {
			if (i > 5) {
				Thread.sleep(Long.parseLong(args[i - 1]));
			}
			String at = String.format("%.3f", System.currentTimeMillis() / 1e3 - start);
			String got;
			try {
				if (mode.equals("urlconn")) {
					HttpURLConnection u = (HttpURLConnection) uri.toURL().openConnection();
					u.setRequestProperty("User-Agent", "lab-" + role);
					u.setConnectTimeout(5000);
					u.setReadTimeout(5000);
					u.getInputStream().readAllBytes();
					kept.add(u); // never disconnected: the cache keeps it
					got = "status " + u.getResponseCode();
				} else {
					HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5))
							.header("User-Agent", "lab-" + role).GET().build();
					got = "status " + c.send(req, HttpResponse.BodyHandlers.ofString()).statusCode();
				}
			} catch (Exception e) {
				got = e.toString();
			}
			String done = String.format("%.3f", System.currentTimeMillis() / 1e3 - start);
			System.err.println("jettyjdk " + role + " " + (i - 5) + " sent at " + at + " s, done at " + done + " s: " + got);
		}
		Thread.sleep(hold * 1000);
		System.exit(0);
	}
}
