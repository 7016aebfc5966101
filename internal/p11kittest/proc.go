package p11kittest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// running is one run of the server: its process, which leads a process
// group holding the processes it forks for clients.
//
// The leader is reaped only by stop. Until then it stays a zombie after it
// dies, and the kernel does not reuse a process ID that still names a process
// group with a member, so signalling the group (kill(-pgid)) can reach
// nothing but this server's processes, even when the server died by itself.
type running struct {
	cmd    *exec.Cmd
	pgid   int
	exited chan struct{} // closed when the leader has exited (not reaped)
}

func watch(cmd *exec.Cmd) *running {
	r := &running{cmd: cmd, pgid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		defer close(r.exited)
		var info unix.Siginfo
		for {
			// WNOWAIT: learn that the leader exited without reaping it.
			err := unix.Waitid(unix.P_PID, r.pgid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return
			}
		}
	}()
	return r
}

// stop kills every live process of the group with SIGKILL, again until none
// is left, then reaps the leader.
func (r *running) stop() error {
	deadline := time.Now().Add(stopTimeout)
	for {
		live, err := groupMembers(r.pgid)
		if err != nil {
			return err
		}
		if len(live) == 0 {
			break
		}
		if err := unix.Kill(-r.pgid, unix.SIGKILL); err != nil && err != unix.ESRCH {
			return fmt.Errorf("p11kittest: killing server process group %d: %w", r.pgid, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("p11kittest: server processes %v still alive %v after SIGKILL", live, stopTimeout)
		}
		time.Sleep(pollInterval)
	}
	select {
	case <-r.exited:
	case <-time.After(stopTimeout):
		return fmt.Errorf("p11kittest: server process %d not reported exited %v after SIGKILL", r.pgid, stopTimeout)
	}
	r.cmd.Wait() // the error is the SIGKILL
	return nil
}

// waitListening waits until a socket bound to path listens, which
// /proc/net/unix shows without connecting to it (a connection would make the
// server fork a child).
func (r *running) waitListening(path string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ok, err := listening(path)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-r.exited:
			return errors.New("p11kittest: p11-kit server exited before listening")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("p11kittest: p11-kit server not listening on %s after %v", path, readyTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// soAcceptCon is the flag /proc/net/unix shows for a listening socket
// (__SO_ACCEPTCON).
const soAcceptCon = "00010000"

// listening reports whether /proc/net/unix lists a listening socket bound
// to path. Its lines read "Num RefCount Protocol Flags Type St Inode Path".
func listening(path string) (bool, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false, fmt.Errorf("p11kittest: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 8 && f[3] == soAcceptCon && f[7] == path {
			return true, nil
		}
	}
	return false, sc.Err()
}

// groupMembers returns the processes in process group pgid that have not
// exited; zombies, which only wait to be reaped, are left out.
func groupMembers(pgid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("p11kittest: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, ok := liveGroup(pid); ok && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// liveGroup returns the process group of process pid, if it exists and has
// not exited (is not a zombie).
func liveGroup(pid int) (pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false // no such process, or it exited meanwhile
	}
	// "pid (comm) state ppid pgrp ...", where comm may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return pgrp, err == nil
}
