// shapes: the C++ plugin of the cxx example. It parses shape
// descriptions with the C++ standard library, which reports bad input by
// throwing; the exceptions are caught inside the plugin (runplug serves
// the unwinder what it needs to find the plugin's unwind tables) and
// turned into an error message for the host, sent through the host
// function report_error. Exceptions must not escape an extern "C"
// function: one that does ends in std::terminate, which runplug turns
// into the call's error (and quarantines the plugin).
//
// Build: c++ -shared -fPIC -O2 -Wall -std=c++17 -o libshapes.so shapes.cpp

#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

// A host function of the example (main.go): the plugin tells the host
// why the last call failed.
extern "C" void report_error(const char *msg);

namespace {

struct Shape {
	virtual ~Shape() = default;
	virtual double area() const = 0;
};

struct Circle : Shape {
	double r;
	explicit Circle(double r) : r(r) {}
	double area() const override { return M_PI * r * r; }
};

struct Rect : Shape {
	double w, h;
	Rect(double w, double h) : w(w), h(h) {}
	double area() const override { return w * h; }
};

double number(std::istringstream &in, const char *what) {
	std::string word;
	if (!(in >> word)) {
		throw std::invalid_argument(std::string("missing ") + what);
	}
	double v = std::stod(word); // throws std::invalid_argument itself
	if (v < 0) {
		throw std::domain_error(std::string(what) + " is negative");
	}
	return v;
}

std::unique_ptr<Shape> parse(const std::string &spec) {
	std::istringstream in(spec);
	std::string kind;
	in >> kind;
	if (kind == "circle") {
		return std::make_unique<Circle>(number(in, "radius"));
	}
	if (kind == "rect") {
		double w = number(in, "width");
		return std::make_unique<Rect>(w, number(in, "height"));
	}
	throw std::invalid_argument("unknown shape \"" + kind + "\"");
}

} // namespace

// area_milli returns the area of the shape spec describes, in thousandths
// (rounded), or -1 after reporting why spec is wrong.
extern "C" int64_t area_milli(const char *spec) {
	try {
		return std::llround(parse(spec)->area() * 1000);
	} catch (const std::exception &e) {
		report_error(e.what());
		return -1;
	}
}
