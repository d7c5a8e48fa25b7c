// Command sqlite is an example host program of runplug's host API for C
// libraries that take callbacks and out-parameters: it loads the system's
// libsqlite3 with runplug's loader (not dlopen) and
//
//   - opens an in-memory database (sqlite3_open: the sqlite3 ** handle is
//     an out-parameter, a cell the host allocates in the library's
//     memory with Plugin.Alloc),
//   - creates and fills a table, then lists it with sqlite3_exec and a Go
//     callback (a loader.Callback: the C function pointer sqlite calls
//     once per row, inside the protected call of sqlite3_exec),
//   - runs a prepared query (sqlite3_prepare_v2, bind, step, column),
//   - shows the error message of a bad statement (the char *errmsg
//     out-parameter of sqlite3_exec, and sqlite3_errmsg, read as Go
//     strings with Plugin.ReadString), and closes the database.
//
// The memory calls are Plugin methods, so this code would run the same
// with the library isolated in a child process.
//
// Usage:
//
//	sqlite [LIBSQLITE3]
//
// LIBSQLITE3 defaults to libsqlite3.so.0 in the system library directories.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/runplug/runplug/loader"
)

func main() {
	lib := ""
	switch len(os.Args) {
	case 1:
		lib = findLib("libsqlite3.so.0")
	case 2:
		lib = os.Args[1]
	default:
		fmt.Fprintln(os.Stderr, "usage: sqlite [LIBSQLITE3]")
		os.Exit(2)
	}
	if err := run(lib, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sqlite:", err)
		os.Exit(1)
	}
}

// findLib returns the path of name in the usual library directories.
func findLib(name string) string {
	for _, dir := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return name
}

// Result codes of sqlite3.h.
const (
	sqliteOK   = 0
	sqliteRow  = 100
	sqliteDone = 101
)

// api is the part of sqlite's C API this program uses, bound once.
type api struct {
	open     func(context.Context, string, uintptr) (int32, error)                            // int sqlite3_open(const char *, sqlite3 **)
	close    func(context.Context, uintptr) (int32, error)                                    // int sqlite3_close(sqlite3 *)
	exec     func(context.Context, uintptr, string, uintptr, uintptr, uintptr) (int32, error) // int sqlite3_exec(sqlite3 *, const char *, callback, void *, char **)
	errmsg   func(context.Context, uintptr) (uintptr, error)                                  // const char *sqlite3_errmsg(sqlite3 *)
	free     func(context.Context, uintptr) (loader.Void, error)                              // void sqlite3_free(void *)
	prepare  func(context.Context, uintptr, string, int32, uintptr, uintptr) (int32, error)   // int sqlite3_prepare_v2(sqlite3 *, const char *, int, sqlite3_stmt **, const char **)
	bindInt  func(context.Context, uintptr, int32, int64) (int32, error)                      // int sqlite3_bind_int64(sqlite3_stmt *, int, sqlite3_int64)
	step     func(context.Context, uintptr) (int32, error)                                    // int sqlite3_step(sqlite3_stmt *)
	colText  func(context.Context, uintptr, int32) (uintptr, error)                           // const unsigned char *sqlite3_column_text(sqlite3_stmt *, int)
	colInt   func(context.Context, uintptr, int32) (int64, error)                             // sqlite3_int64 sqlite3_column_int64(sqlite3_stmt *, int)
	finalize func(context.Context, uintptr) (int32, error)                                    // int sqlite3_finalize(sqlite3_stmt *)
}

func bind(p *loader.Plugin) (*api, error) {
	var a api
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	fn := func(name string) *loader.Func {
		f, err := p.Func(name)
		add(err)
		return f
	}
	var err error
	a.open, err = loader.Bind2[string, uintptr, int32](fn("sqlite3_open"))
	add(err)
	a.close, err = loader.Bind1[uintptr, int32](fn("sqlite3_close"))
	add(err)
	a.exec, err = loader.Bind5[uintptr, string, uintptr, uintptr, uintptr, int32](fn("sqlite3_exec"))
	add(err)
	a.errmsg, err = loader.Bind1[uintptr, uintptr](fn("sqlite3_errmsg"))
	add(err)
	a.free, err = loader.Bind1[uintptr, loader.Void](fn("sqlite3_free"))
	add(err)
	a.prepare, err = loader.Bind5[uintptr, string, int32, uintptr, uintptr, int32](fn("sqlite3_prepare_v2"))
	add(err)
	a.bindInt, err = loader.Bind3[uintptr, int32, int64, int32](fn("sqlite3_bind_int64"))
	add(err)
	a.step, err = loader.Bind1[uintptr, int32](fn("sqlite3_step"))
	add(err)
	a.colText, err = loader.Bind2[uintptr, int32, uintptr](fn("sqlite3_column_text"))
	add(err)
	a.colInt, err = loader.Bind2[uintptr, int32, int64](fn("sqlite3_column_int64"))
	add(err)
	a.finalize, err = loader.Bind1[uintptr, int32](fn("sqlite3_finalize"))
	add(err)
	return &a, errors.Join(errs...)
}

// db is an open database.
type db struct {
	*api
	p *loader.Plugin
	h uintptr // sqlite3 *
}

// cell is a pointer-sized out-parameter (a T **) in the library's memory.
type cell struct {
	p    *loader.Plugin
	addr uintptr
}

// newCell allocates a cell holding NULL.
func newCell(p *loader.Plugin) (*cell, error) {
	ctx := context.Background()
	addr, err := p.Alloc(ctx, 8)
	if err != nil {
		return nil, err
	}
	if err := p.WriteMemory(addr, make([]byte, 8)); err != nil {
		p.Free(ctx, addr)
		return nil, err
	}
	return &cell{p: p, addr: addr}, nil
}

// get returns the pointer the library stored in the cell.
func (c *cell) get() (uintptr, error) {
	var b [8]byte
	if err := c.p.ReadMemory(c.addr, b[:]); err != nil {
		return 0, err
	}
	return uintptr(binary.LittleEndian.Uint64(b[:])), nil
}

func (c *cell) free() { c.p.Free(context.Background(), c.addr) }

// check turns a result code into an error carrying sqlite3_errmsg.
func (d *db) check(what string, rc int32, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if rc == sqliteOK {
		return nil
	}
	msg, err := d.errmsg(context.Background(), d.h)
	if err != nil {
		return fmt.Errorf("%s: code %d", what, rc)
	}
	s, _ := d.p.ReadString(msg, -1)
	return fmt.Errorf("%s: code %d: %s", what, rc, s)
}

// execRows runs sql with sqlite3_exec and a Go callback that is called
// for each result row with the column names and values.
func (d *db) execRows(sql string, row func(names, values []string)) error {
	var rowErr error
	cb, err := loader.NewCallback(func(_ unsafe.Pointer, n int32, values, names uintptr) int32 {
		vs, err1 := d.cStrings(values, n)
		ns, err2 := d.cStrings(names, n)
		if rowErr = errors.Join(err1, err2); rowErr != nil {
			return 1 // sqlite3_exec stops and returns SQLITE_ABORT
		}
		row(ns, vs)
		return 0
	})
	if err != nil {
		return err
	}
	defer cb.Release()
	rc, err := d.exec(context.Background(), d.h, sql, cb.Ptr(), 0, 0)
	if rowErr != nil {
		return rowErr
	}
	return d.check("exec", rc, err)
}

// cStrings copies the n C strings (NULL is "") of the array at arr.
func (d *db) cStrings(arr uintptr, n int32) ([]string, error) {
	ptrs := make([]byte, 8*int(n))
	if err := d.p.ReadMemory(arr, ptrs); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		var err error
		if out[i], err = d.p.ReadString(uintptr(binary.LittleEndian.Uint64(ptrs[8*i:])), -1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// execErr runs sql with sqlite3_exec and returns the message sqlite
// writes to its char **errmsg out-parameter ("" on success).
func (d *db) execErr(sql string) (string, error) {
	msg, err := newCell(d.p)
	if err != nil {
		return "", err
	}
	defer msg.free()
	if _, err := d.exec(context.Background(), d.h, sql, 0, 0, msg.addr); err != nil {
		return "", err
	}
	s, err := msg.get()
	if err != nil || s == 0 {
		return "", err
	}
	defer d.free(context.Background(), s) // sqlite3_malloc'd
	return d.p.ReadString(s, -1)
}

// query runs a prepared statement with one integer parameter and returns
// the (text, integer) rows it gives.
func (d *db) query(sql string, param int64) ([]string, error) {
	stmt, err := newCell(d.p) // sqlite3_stmt **
	if err != nil {
		return nil, err
	}
	defer stmt.free()
	rc, err := d.prepare(context.Background(), d.h, sql, -1, stmt.addr, 0)
	if err := d.check("prepare", rc, err); err != nil {
		return nil, err
	}
	st, err := stmt.get()
	if err != nil {
		return nil, err
	}
	defer d.finalize(context.Background(), st)
	rc, err = d.bindInt(context.Background(), st, 1, param)
	if err := d.check("bind", rc, err); err != nil {
		return nil, err
	}
	var rows []string
	for {
		rc, err := d.step(context.Background(), st)
		if err != nil {
			return nil, err
		}
		if rc == sqliteDone {
			return rows, nil
		}
		if rc != sqliteRow {
			return nil, d.check("step", rc, nil)
		}
		txt, err := d.colText(context.Background(), st, 0)
		if err != nil {
			return nil, err
		}
		name, err := d.p.ReadString(txt, -1)
		if err != nil {
			return nil, err
		}
		n, err := d.colInt(context.Background(), st, 1)
		if err != nil {
			return nil, err
		}
		rows = append(rows, fmt.Sprintf("%s=%d", name, n))
	}
}

// run loads lib and goes through the steps above, printing to out.
func run(lib string, out io.Writer) error {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, err := l.Load(ctx, lib)
	if err != nil {
		return err
	}
	a, err := bind(p)
	if err != nil {
		return err
	}

	// sqlite3_open(":memory:", &db): the handle comes back through a
	// sqlite3 ** out-parameter, a cell in the library's memory.
	c, err := newCell(p)
	if err != nil {
		return err
	}
	defer c.free()
	rc, err := a.open(context.Background(), ":memory:", c.addr)
	h, herr := c.get()
	d := &db{api: a, p: p, h: h}
	if err := d.check("open", rc, errors.Join(err, herr)); err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			d.close(context.Background(), d.h)
		}
	}()
	fmt.Fprintln(out, "opened an in-memory database with", filepath.Base(lib))

	for _, sql := range []string{
		"CREATE TABLE fruit(name TEXT, qty INTEGER)",
		"INSERT INTO fruit VALUES ('apple', 3), ('pear', 7), ('fig', 12), ('kiwi', NULL)",
	} {
		if err := d.execRows(sql, nil); err != nil {
			return err
		}
	}
	err = d.execRows("SELECT name, qty FROM fruit ORDER BY name", func(names, values []string) {
		fmt.Fprintf(out, "row: %s=%q %s=%q\n", names[0], values[0], names[1], values[1])
	})
	if err != nil {
		return err
	}

	rows, err := d.query("SELECT name, qty FROM fruit WHERE qty > ? ORDER BY qty DESC", 5)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "qty > 5:", rows)

	msg, err := d.execErr("SELECT nope FROM fruit")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "exec error message:", msg)
	fmt.Fprintln(out, "as an error:", d.check("exec", 1, nil))

	rc, err = d.close(context.Background(), d.h)
	if err := d.check("close", rc, err); err != nil {
		return err
	}
	closed = true
	fmt.Fprintln(out, "closed")
	return nil
}
