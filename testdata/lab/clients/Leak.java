// Leak is the JDK client of the real-software lab's incident of a client
// that never closes: each request runs on a thread of its own, over a
// java.net.Socket, and the thread ends after reading the response without
// closing the socket (one in three closes it). When the server's keep-alive
// timeout closes the connection, the socket sits in CLOSE_WAIT until the
// process exits.
//
// Usage: java Leak.java HOST PORT N INTERVAL_MS HOLD_S
// Prints "leak PORT" or "ok PORT" per connection.

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

public class Leak {
	// Kept reachable: the JDK closes an unreachable socket's descriptor.
	static final List<Socket> kept = new ArrayList<>();

	public static void main(String[] args) throws Exception {
		String host = args[0];
		int port = Integer.parseInt(args[1]);
		int n = Integer.parseInt(args[2]);
		long interval = Long.parseLong(args[3]);
		long hold = Long.parseLong(args[4]);
		for (int i = 0; i < n; i++) {
			final boolean closes = i % 3 == 2;
			Thread t = new Thread(() -> request(host, port, closes));
			t.start();
			t.join();
			Thread.sleep(interval);
		}
		Thread.sleep(hold * 1000);
		System.exit(0);
	}

	static void request(String host, int port, boolean closes) {
		try {
			Socket s = new Socket();
			s.connect(new InetSocketAddress(host, port), 3000);
			s.setSoTimeout(5000);
			OutputStream out = s.getOutputStream();
			out.write(("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
			out.flush();
			readResponse(s.getInputStream());
			System.out.println((closes ? "ok " : "leak ") + s.getLocalPort());
			System.out.flush();
			if (closes) {
				s.close();
			} else {
				synchronized (kept) {
					kept.add(s); // the bug: the thread ends, the socket stays open
				}
			}
		} catch (Exception e) {
			System.err.println("leak: " + e);
		}
	}

	// readResponse reads one response with a Content-Length body.
	static void readResponse(InputStream in) throws Exception {
		ByteArrayOutputStream head = new ByteArrayOutputStream();
		int c;
		while ((c = in.read()) >= 0) {
			head.write(c);
			String h = head.toString(StandardCharsets.US_ASCII);
			if (h.endsWith("\r\n\r\n")) {
				int length = 0;
				for (String line : h.split("\r\n")) {
					if (line.toLowerCase().startsWith("content-length:")) {
						length = Integer.parseInt(line.substring(15).trim());
					}
				}
				in.readNBytes(length);
				return;
			}
		}
	}
}
