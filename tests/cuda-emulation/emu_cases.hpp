// Reading the case files that `Aim.Cuda.Check --emit-*` writes (raw little-endian arrays, one per tensor), shared by
// the *_check.cpp runners.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

/// The `count` values of type T in `path`; exits with status 2 when the file is missing or its size differs.
template <typename T> std::vector<T> read_file(const std::string& path, size_t count)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) { std::fprintf(stderr, "missing %s\n", path.c_str()); std::exit(2); }
    std::vector<T> v(count);
    f.read(reinterpret_cast<char*>(v.data()), (std::streamsize)(count * sizeof(T)));
    if ((size_t)f.gcount() != count * sizeof(T) || f.peek() != EOF)
    {
        std::fprintf(stderr, "%s: expected %zu values of %zu bytes\n", path.c_str(), count, sizeof(T));
        std::exit(2);
    }
    return v;
}
