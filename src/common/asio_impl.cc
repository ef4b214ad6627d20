// The one translation unit that compiles Boost.Asio, Asio SSL and Boost.Beast
// (BOOST_*_SEPARATE_COMPILATION is set for the whole project in CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
