// cxx_dep.h: what cxx_dep exports to cxx_exc (C++ linkage).
#ifndef CXX_DEP_H
#define CXX_DEP_H

#include <stdexcept>
#include <typeinfo>

class DepError : public std::runtime_error {
public:
	explicit DepError(long code);
	const char *what() const noexcept override; // the key function: typeinfo and vtable live in cxx_dep
	long code() const { return code_; }

private:
	long code_;
};

void dep_throw(long code);
const std::type_info &dep_error_type();
long dep_call(long (*fn)(long), long arg);

#endif
