package ctl

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// ComponentNames are the names a shell completes for <component>: the
// running RAZAR's components when it answers within a second, else those
// of config/boot_config.json, else none. It never says why it found none.
func (c *Client) ComponentNames(ctx context.Context) []string {
	if names := c.runningComponents(ctx); len(names) > 0 {
		return names
	}
	cfg, err := config.LoadBootConfig(razar.Home(c.Home).BootConfig())
	if err != nil {
		return nil
	}
	var names []string
	for _, comp := range cfg.Components {
		names = append(names, comp.Name)
	}
	return names
}

// runningComponents asks the running RAZAR for its components, as
// `razar status --json` does, within a short deadline.
func (c *Client) runningComponents(ctx context.Context) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	nc, err := c.Connect(ctx, "", "razar-complete", zerolog.Nop())
	if err != nil {
		return nil
	}
	defer nc.Close()
	rep, err := bus.Command(ctx, nc, bus.VerbStatus, bus.AllComponents, nil)
	if err != nil {
		return nil
	}
	var view bus.StatusView
	if json.Unmarshal(rep.Data, &view) != nil || view.Mission == nil {
		return nil
	}
	var names []string
	for _, v := range view.Mission.Components {
		names = append(names, v.Name)
	}
	return names
}

// RungNames are the roster's rungs, for a shell to complete; none when
// the roster cannot be read.
func (c *Client) RungNames() []string {
	roster, err := config.LoadRoster(razar.Home(c.Home).Roster())
	if err != nil {
		return nil
	}
	var names []string
	for _, a := range roster.Agents {
		names = append(names, a.Name)
	}
	return names
}
