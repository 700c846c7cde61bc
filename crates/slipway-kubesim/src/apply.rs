//! (being written: see the kubesim patch/schema work)
