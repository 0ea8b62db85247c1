#!/usr/bin/perl
# An LWP::UserAgent client of the real-software lab (testdata/lab/real.sh).
#
#   lwppool.pl ROLE KEEPALIVE HOLD STEP...
#
# One agent, with keep_alive => KEEPALIVE (an LWP::ConnCache of that many
# connections; 0: none, each request its own connection, sent with
# "Connection: close"). Each STEP is a URL (a GET, its body read) or a
# pause in seconds, counted from the end of the response before it. After
# the steps the agent is kept, idle, HOLD seconds, then the process exits.
# It prints "ROLE PORT" with the local port of every connection LWP opens
# (one write a line: clients running at once append to one file), and to
# stderr each response: when, its status, the local port and whether the
# connection was reused (Client-Response-Num).
use strict;
use warnings;
use LWP::UserAgent;
use LWP::Protocol::http;
use Time::HiRes qw(sleep time);

die "usage: lwppool.pl ROLE KEEPALIVE HOLD STEP...\n" unless @ARGV >= 3;
my ($role, $keep_alive, $hold, @steps) = @ARGV;
my $t0 = time;
my $port;

# Say the local port of each connection LWP opens; its behaviour is
# unchanged (the cache check before reuse, the request, the pool).
{
	no warnings 'redefine';
	my $new_socket = \&LWP::Protocol::http::_new_socket;
	*LWP::Protocol::http::_new_socket = sub {
		my $sock = $new_socket->(@_);
		$port = $sock->sockport;
		syswrite(STDOUT, "$role $port\n");
		return $sock;
	};
}

my $ua = LWP::UserAgent->new(keep_alive => $keep_alive, timeout => 5);
for my $step (@steps) {
	if ($step =~ /^[0-9.]+$/) {
		sleep($step);
		next;
	}
	my $r = $ua->get($step);
	printf STDERR "lwp %s %.3f %s: %s (port %s, response %s on it)\n", $role, time - $t0, $step,
		$r->status_line, $port // "?", $r->header("Client-Response-Num") // "?";
}
sleep($hold);
