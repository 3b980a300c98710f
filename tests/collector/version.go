package main

// version is the Collector release every module in go.mod is pinned to (core v1.67.0 / v0.161.0,
// contrib v0.161.0): the newest at which all of these components resolve together.
const version = "0.161.0"
