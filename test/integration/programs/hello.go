// Go under the strict policy: goroutines, a channel and a child process.
package main

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	results := make(chan int, 4)
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go func(n int) { defer wg.Done(); results <- n }(i)
	}
	wg.Wait()
	close(results)
	sum := 0
	for n := range results {
		sum += n
	}
	out, err := exec.Command("/bin/echo", "from child").Output()
	if err != nil {
		panic(err)
	}
	fmt.Printf("go: ok (sum %d, %s)\n", sum, strings.TrimSpace(string(out)))
}
