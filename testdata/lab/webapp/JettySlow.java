// A servlet for the lab's Jetty 9.4 (testdata/lab/real.sh, jetty-idle),
// against Jetty's servlet-api 3.1 (javax.servlet): /slow answers "ok" after
// 1.5 s, any other path at once.
import java.io.IOException;

import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

public class JettySlow extends HttpServlet {
	@Override
	protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
		if ("/slow".equals(req.getServletPath())) {
			try {
				Thread.sleep(1500);
			} catch (InterruptedException e) {
				Thread.currentThread().interrupt();
			}
		}
		byte[] body = "ok\n".getBytes();
		resp.setContentType("text/plain");
		resp.setContentLength(body.length);
		resp.getOutputStream().write(body);
	}
}
