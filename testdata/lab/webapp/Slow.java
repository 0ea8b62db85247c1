// A servlet for the lab's Tomcat (testdata/lab/real.sh, tomcat-accept-queue):
// /slow answers "ok" after 1.5 s, /fast at once.
import java.io.IOException;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

public class Slow extends HttpServlet {
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
