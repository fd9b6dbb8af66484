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

// TestBootClient: iPXE, PXE firmware and a booted system's own DHCP
// client (whose OFFER is no new boot) are told apart.
func TestBootClient(t *testing.T) {
	mac := machine(t, "52:54:00:00:00:07", "web7", "10.0.0.7").MAC
	for _, c := range []struct {
		name string
		mods []dhcpv4.Modifier
		want string
	}{
		{"iPXE (Debian ipxe-qemu)", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")), dhcpv4.WithUserClass("iPXE", false)}, ClientIPXE},
		{"BIOS PXE ROM", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")), dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC))}, ClientPXE},
		{"UEFI, arch only", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64))}, ClientPXE},
		{"busybox udhcpc", []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptClassIdentifier("udhcp 1.35.0"))}, ClientOS},
		{"no class (dhclient, networkd)", nil, ClientOS},
	} {
		m, err := dhcpv4.NewDiscovery(mac, c.mods...)
		if err != nil {
			t.Fatal(err)
		}
		if got := bootClient(m); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
