#!/bin/sh
# ipbytes.sh CAPTURE: IP bytes and packets per direction of every TCP
# 4-tuple, as tshark counts them ("src sport dst dport packets ip_bytes"),
# to cross-check the ip_bytes of flowdoc's Zeek conn.log.
tshark -r "$1" -Y tcp -T fields -e ip.src -e ipv6.src -e tcp.srcport \
	-e ip.dst -e ipv6.dst -e tcp.dstport -e ip.len -e ipv6.plen 2>/dev/null |
	awk -F'\t' '{
		src = $1 != "" ? $1 : $2; dst = $4 != "" ? $4 : $5
		n = $7 != "" ? $7 : 40 + $8
		k = src " " $3 " " dst " " $6
		if (!(k in pk)) order[++nk] = k
		pk[k]++; by[k] += n
	} END { for (i = 1; i <= nk; i++) print order[i], pk[order[i]], by[order[i]] }'
