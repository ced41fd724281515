// Command mkpdf writes a valid one-page PDF of about the given size (the
// page carries an unused stream of filler), for signing benchmarks.
//
//	go run ./bench/mkpdf -size 1G -o big.pdf
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

func main() {
	sizeFlag := flag.String("size", "1M", "approximate file size (K, M, G suffixes)")
	out := flag.String("o", "", "output file")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if err != nil || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkpdf -size 1G -o file.pdf")
		os.Exit(2)
	}
	if err := write(*out, size); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func write(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var off int64
	offsets := make([]int64, 6)
	put := func(s string) { n, _ := w.WriteString(s); off += int64(n) }
	put("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	content := "BT /F1 24 Tf 72 720 Td (semnat benchmark document) Tj ET\n"
	filler := max(size-1024, 0)
	offsets[1] = off
	put("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	offsets[2] = off
	put("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
	offsets[3] = off
	put("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> /XObject << /Fill 5 0 R >> >> >>\nendobj\n")
	offsets[4] = off
	put(fmt.Sprintf("4 0 obj\n<< /Length %d >>\nstream\n%sendstream\nendobj\n", len(content), content))
	offsets[5] = off
	put(fmt.Sprintf("5 0 obj\n<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length %d >>\nstream\n", filler))
	line := strings.Repeat("%", 127) + "\n"
	for n := filler; n > 0; {
		k := min(n, int64(len(line)))
		put(line[int64(len(line))-k:])
		n -= k
	}
	put("\nendstream\nendobj\n")
	xref := off
	put("xref\n0 6\n0000000000 65535 f \n")
	for i := 1; i <= 5; i++ {
		put(fmt.Sprintf("%010d 00000 n \n", offsets[i]))
	}
	put(fmt.Sprintf("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref))
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
