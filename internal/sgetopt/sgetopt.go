// Package sgetopt parses options the way djb's sgetopt/subgetopt do in
// daemontools 0.76, so that svkit's programs accept exactly the same command
// lines and print the same complaints:
//
//   - options are single bytes after a '-', and may be grouped ("-du");
//   - parsing stops at the first argument that does not start with '-', at
//     a lone "-" (which stays an argument), and at any argument starting with
//     "--" (which is consumed: "--foo" ends the options like "--");
//   - a letter followed by ':' in the option string takes an argument, glued
//     ("-n5") or in the next argument ("-n 5");
//   - an unknown letter, or a missing argument, prints
//     "PROG: illegal option -- z" or "PROG: option requires an argument -- z"
//     to stderr, where PROG is the last path element of argv[0].
package sgetopt

import (
	"io"
	"strings"
)

// Parser walks an argv. The zero value is not usable; call New.
type Parser struct {
	argv   []string
	opts   string
	stderr io.Writer
	prog   string

	Ind     int    // index of the next argument to look at
	pos     int    // position inside argv[Ind]; 0 when between arguments
	Arg     string // argument of the last option that takes one
	Problem byte   // the offending letter after a '?' result
}

// EOF is returned by Next when the options are over.
const EOF = -1

// New returns a parser for argv (argv[0] is the program name) and the option
// string opts. Complaints go to stderr; a nil stderr silences them.
func New(argv []string, opts string, stderr io.Writer) *Parser {
	prog := ""
	if len(argv) > 0 {
		prog = argv[0]
		if i := strings.LastIndexByte(prog, '/'); i >= 0 {
			prog = prog[i+1:]
		}
	}
	return &Parser{argv: argv, opts: opts, stderr: stderr, prog: prog, Ind: 1}
}

// Next returns the next option letter, '?' for a bad option (after printing
// the complaint), or EOF. After EOF, Rest returns the operands.
func (p *Parser) Next() int {
	c := p.next()
	if c == '?' && p.stderr != nil {
		msg := ": illegal option -- "
		if p.Ind >= len(p.argv) {
			msg = ": option requires an argument -- "
		}
		io.WriteString(p.stderr, p.prog+msg+string([]byte{p.Problem, '\n'}))
	}
	return c
}

func (p *Parser) next() int {
	p.Arg = ""
	if p.Ind >= len(p.argv) {
		return EOF
	}
	if p.pos > 0 && p.pos >= len(p.argv[p.Ind]) {
		p.Ind++
		p.pos = 0
		if p.Ind >= len(p.argv) {
			return EOF
		}
	}
	if p.pos == 0 {
		a := p.argv[p.Ind]
		if len(a) == 0 || a[0] != '-' {
			return EOF
		}
		if len(a) == 1 {
			return EOF // a lone "-" is an operand
		}
		if a[1] == '-' {
			p.Ind++ // "--" or "--anything" ends the options and is consumed
			return EOF
		}
		p.pos = 1
	}
	a := p.argv[p.Ind]
	c := a[p.pos]
	p.pos++
	for i := 0; i < len(p.opts); i++ {
		if p.opts[i] == ':' {
			continue
		}
		if p.opts[i] != c {
			continue
		}
		if i+1 < len(p.opts) && p.opts[i+1] == ':' {
			rest := a[p.pos:]
			p.Ind++
			p.pos = 0
			if rest != "" {
				p.Arg = rest
				return int(c)
			}
			if p.Ind >= len(p.argv) {
				p.Problem = c
				return '?'
			}
			p.Arg = p.argv[p.Ind]
			p.Ind++
		}
		return int(c)
	}
	p.Problem = c
	return '?'
}

// Rest returns the arguments left after the options.
func (p *Parser) Rest() []string {
	if p.pos > 0 && p.Ind < len(p.argv) && p.pos >= len(p.argv[p.Ind]) {
		p.Ind++
		p.pos = 0
	}
	if p.Ind > len(p.argv) {
		return nil
	}
	return p.argv[p.Ind:]
}
