package engine

import (
	"context"
	"fmt"

	"github.com/discoterm/discoterm/engine/machines"
	"github.com/discoterm/discoterm/engine/provision"
)

// answerRouterSolicits runs beside provision's DHCP: registered machines'
// IPv6 router solicitations get an advertisement that advertises nothing,
// so iPXE stops waiting for an IPv6 router (provision.RouterAdverts). It
// never stops provisioning: without it a boot is only slower.
func (e *Engine) answerRouterSolicits(ctx context.Context, iface string, load func() ([]machines.Machine, error), emit func(*BootEvent)) {
	ra := &provision.RouterAdverts{Interface: iface, Machines: load, OnSolicit: func(r provision.RouterSolicit) {
		if r.Machine == "" {
			return // an unregistered MAC: DHCP already logs it
		}
		ev := &BootEvent{Header: Header{Level: LevelInfo}, Service: provisionNDP, MAC: r.MAC.String(), Machine: r.Machine,
			Request: "RS", Answer: "RA", Addr: r.From.String()}
		ev.Message = fmt.Sprintf("ndp: router solicitation from %s (%s): answered with no route, no prefix", r.Machine, r.MAC)
		if r.Err != nil {
			ev.Level, ev.Answer, ev.Err = LevelWarn, "", r.Err.Error()
			ev.Message = fmt.Sprintf("ndp: router solicitation from %s (%s) not answered: %v", r.Machine, r.MAC, r.Err)
		}
		emit(ev)
	}}
	if err := ra.Serve(ctx); err != nil && ctx.Err() == nil {
		e.logf(LevelWarn, "provision: %v; iPXE clients will wait for an IPv6 router (about 13 s) before they boot", err)
	}
}
