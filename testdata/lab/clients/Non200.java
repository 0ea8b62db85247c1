// Non200 is the client of the real-software lab's incident of non-200
// responses never released, with the library it names: Apache HttpClient
// 4.5 and a pool of maxConnTotal connections. On a 200 the entity is
// consumed (the connection goes back to the pool); on any other status
// the code returns early without consuming or closing the response, so the
// connection is never released: the server's keep-alive timeout closes it
// and the socket sits in CLOSE_WAIT, and once the pool is exhausted every
// further request waits for a connection that never comes.
//
// Usage: java -cp httpclient.jar:httpcore.jar:... Non200 URL N INTERVAL_MS HOLD_S
// The paths /ok and /missing are requested in turn. Prints "ok PORT" or
// "leak PORT" per request, "wait" when no connection could be leased.

import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.apache.http.HttpResponse;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.client.protocol.HttpClientContext;
import org.apache.http.conn.ManagedHttpClientConnection;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.util.EntityUtils;

public class Non200 {
	public static void main(String[] args) throws Exception {
		String base = args[0];
		int n = Integer.parseInt(args[1]);
		long interval = Long.parseLong(args[2]);
		long hold = Long.parseLong(args[3]);
		RequestConfig rc = RequestConfig.custom().setConnectionRequestTimeout(500).setConnectTimeout(3000).build();
		CloseableHttpClient client = HttpClients.custom().setMaxConnTotal(4).setMaxConnPerRoute(4)
				.setDefaultRequestConfig(rc).build();
		List<HttpResponse> unreleased = new ArrayList<>();
		String[] paths = {"/ok", "/missing"};
		for (int i = 0; i < n; i++) {
			HttpClientContext ctx = HttpClientContext.create();
			try {
				HttpResponse resp = client.execute(new HttpGet(base + paths[i % paths.length]), ctx);
				Socket s = ctx.getConnection(ManagedHttpClientConnection.class).getSocket();
				int port = s.getLocalPort();
				if (resp.getStatusLine().getStatusCode() != 200) {
					unreleased.add(resp); // the bug: returned early, never consumed or closed
					System.out.println("leak " + port);
				} else {
					EntityUtils.consume(resp.getEntity());
					System.out.println("ok " + port);
				}
			} catch (Exception e) {
				System.out.println("wait " + e.getClass().getSimpleName());
			}
			System.out.flush();
			Thread.sleep(interval);
		}
		Thread.sleep(hold * 1000);
		System.exit(0);
	}
}
