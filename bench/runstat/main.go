// Command runstat runs a command N times and prints its median wall time in
// seconds and its peak resident memory in MB, tab-separated, for the
// side-by-side bench scripts.
//
//	runstat -n 5 -- semnat sign in.pdf -o out.pdf ...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 3, "runs")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: runstat [-n N] -- command args...")
		os.Exit(2)
	}
	var walls []float64
	var rss int64
	for i := 0; i < *n; i++ {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "runstat: %v\n", err)
			os.Exit(1)
		}
		walls = append(walls, time.Since(start).Seconds())
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > rss {
			rss = ru.Maxrss // KiB on Linux
		}
	}
	sort.Float64s(walls)
	fmt.Printf("%.4f\t%.1f\n", walls[len(walls)/2], float64(rss)/1024)
}
