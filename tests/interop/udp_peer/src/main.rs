//! A node on Ockam's UDP transport, driven by tests/test_interop_udp.py.
//!
//! `udp_peer serve`: binds 127.0.0.1:0, runs `echo` (returns the payload as
//! it came) and `uppercase` (a BARE string, upper-cased), prints
//! `PORT <port>` and serves until stdin closes.
//!
//! `udp_peer send <port> <service> <text|@size>`: binds, sends to
//! `[bind sender, 2#127.0.0.1:<port>, <service>]` and prints the reply. A text
//! goes as a BARE string and the reply is printed as text; `@N` sends N
//! pseudo-random bytes as a raw payload and prints `OK N` when the reply is
//! the same bytes.

use ockam_core::{async_trait, route, Any, NeutralMessage, Result, Routed, Worker};
use ockam_node::{Context, MessageSendReceiveOptions, NodeBuilder};
use ockam_transport_udp::{UdpBindArguments, UdpBindOptions, UdpTransport, UDP};
use std::io::Read;
use std::time::Duration;

struct Echo;

#[async_trait]
impl Worker for Echo {
    type Message = Any;
    type Context = Context;

    async fn handle_message(&mut self, ctx: &mut Context, msg: Routed<Any>) -> Result<()> {
        let back = msg.return_route();
        let payload = msg.into_local_message().into_payload();
        ctx.send(back, NeutralMessage::from(payload)).await
    }
}

struct Uppercase;

#[async_trait]
impl Worker for Uppercase {
    type Message = String;
    type Context = Context;

    async fn handle_message(&mut self, ctx: &mut Context, msg: Routed<String>) -> Result<()> {
        let back = msg.return_route();
        let text = msg.into_body()?;
        ctx.send(back, text.to_uppercase()).await
    }
}

fn pattern(n: usize) -> Vec<u8> {
    // xorshift: bytes that differ at every offset, so a misplaced piece shows
    let mut x: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Ockam's bind keeps the kernel's default receive buffer (212992 bytes
/// here, about 200 datagrams), so a Rust receiver that is descheduled for a
/// few ms loses a whole large message: with two busy loops on this 2-core
/// machine, 7 of 200 echoes of 100 kB and 22 of 40 of 1 MB. The tests check
/// the wire format, not this machine's scheduler, so the peer widens its UDP
/// sockets' receive buffers to 4 MiB, as an operator moving bulk UDP would.
/// The crate does not expose its socket, hence the walk over /proc/self/fd.
fn widen_udp_receive_buffers() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    let int_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    for entry in dir.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<libc::c_int>() else { continue };
        let mut kind: libc::c_int = 0;
        let mut len = int_len;
        // SAFETY: fd is this process's descriptor; the buffers are c_ints of the stated length
        let ok = unsafe {
            libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, &mut kind as *mut _ as *mut libc::c_void, &mut len)
        } == 0;
        if ok && kind == libc::SOCK_DGRAM {
            let size: libc::c_int = 4 << 20;
            // SAFETY: as above
            unsafe {
                libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &size as *const _ as *const libc::c_void, int_len)
            };
        }
    }
}

async fn serve(ctx: Context) -> Result<()> {
    let udp = UdpTransport::create(&ctx).await?;
    let bind = udp
        .bind(UdpBindArguments::new(), UdpBindOptions::new())
        .await?;
    widen_udp_receive_buffers();
    ctx.start_worker("echo", Echo).await?;
    ctx.start_worker("uppercase", Uppercase).await?;
    ctx.flow_controls().add_consumer("echo", bind.flow_control_id());
    ctx.flow_controls().add_consumer("uppercase", bind.flow_control_id());
    println!("PORT {}", bind.bind_address().port());
    // stdin closing is the signal to stop
    tokio_wait_stdin().await;
    ctx.stop().await
}

async fn tokio_wait_stdin() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = tx.send(());
    });
    while rx.try_recv().is_err() {
        ockam_node::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send(ctx: Context, port: u16, service: String, what: String) -> Result<()> {
    let udp = UdpTransport::create(&ctx).await?;
    let bind = udp
        .bind(UdpBindArguments::new(), UdpBindOptions::new())
        .await?;
    widen_udp_receive_buffers();
    let to = route![
        bind.sender_address().clone(),
        (UDP, format!("127.0.0.1:{port}")),
        service
    ];
    let options = MessageSendReceiveOptions::new().with_timeout(Duration::from_secs(10));
    if let Some(size) = what.strip_prefix('@') {
        let n: usize = size.parse().expect("@N takes a byte count");
        let sent = pattern(n);
        let reply: Routed<NeutralMessage> = ctx
            .send_and_receive_extended(to, NeutralMessage::from(sent.clone()), options)
            .await?;
        let got = reply.into_body()?.into_vec();
        if got == sent {
            println!("OK {n}");
        } else {
            println!("MISMATCH sent {n} got {}", got.len());
        }
    } else {
        let reply: Routed<String> = ctx.send_and_receive_extended(to, what, options).await?;
        println!("{}", reply.into_body()?);
    }
    ctx.stop().await
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ctx, mut executor) = NodeBuilder::new().no_logging().build();
    let outcome = match args.first().map(String::as_str) {
        Some("serve") => executor.execute(serve(ctx)),
        Some("send") if args.len() == 4 => {
            let port = args[1].parse().expect("port");
            executor.execute(send(ctx, port, args[2].clone(), args[3].clone()))
        }
        _ => {
            eprintln!("usage: udp_peer serve | udp_peer send <port> <service> <text|@size>");
            std::process::exit(2);
        }
    };
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) | Err(e) => {
            eprintln!("udp_peer: {e}");
            std::process::exit(1);
        }
    }
}
