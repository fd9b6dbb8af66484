package provision

import (
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// TestBootFileByClientKind: BIOS PXE, UEFI PXE and iPXE each get their
// own boot file.
func TestBootFileByClientKind(t *testing.T) {
	s := &DHCPServer{opts: DHCPOptions{ServerIP: netip.MustParsePrefix("10.0.0.1/24"), HTTPPort: 8080}}
	mc := machine(t, "52:54:00:00:00:07", "web7", "10.0.0.7")
	for _, c := range []struct {
		name string
		mods []dhcpv4.Modifier
		want string
	}{
		{"no arch", nil, BootFileBIOS},
		{"BIOS", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC))}, BootFileBIOS},
		{"UEFI x64", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64))}, BootFileUEFI},
		{"UEFI BC", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_BC))}, BootFileUEFI},
		{"UEFI ia32", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_IA32))}, BootFileUEFI},
		{"UEFI HTTP", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64_HTTP))}, BootFileUEFI},
		{"iPXE", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)), dhcpv4.WithUserClass("iPXE", false)}, "http://10.0.0.1:8080/boot/web7.ipxe"},
	} {
		m, err := dhcpv4.NewDiscovery(mc.MAC, c.mods...)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.bootFile(m, &mc); got != c.want {
			t.Errorf("%s: boot file %q, want %q", c.name, got, c.want)
		}
	}
}
