package main

import (
	"log/slog"
	"net"
	"os"
)

// notify sends state to systemd (sd_notify(3)) when it started entropyd as a
// Type=notify service: one datagram on the unix socket $NOTIFY_SOCKET,
// abstract when the name starts with "@". Without the variable it does
// nothing; a failure is logged, never fatal.
func notify(log *slog.Logger, state string) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		log.Warn("sd_notify: cannot reach $NOTIFY_SOCKET", "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		log.Warn("sd_notify: write failed", "err", err)
	}
}
