package outbound

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRefusePrivateKnowsEveryPrivateRange(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "100.127.255.254",
		"169.254.169.254", "0.0.0.0", "::1", "::", "fe80::1", "fc00::1", "fd12::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"} {
		require.Error(t, refusePrivate("tcp", netip.AddrPortFrom(netip.MustParseAddr(ip), 443).String(), nil), ip)
	}
	for _, ip := range []string{"8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2001:4860:4860::8888"} {
		require.NoError(t, refusePrivate("tcp", netip.AddrPortFrom(netip.MustParseAddr(ip), 443).String(), nil), ip)
	}
}
