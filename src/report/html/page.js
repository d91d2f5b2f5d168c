"use strict";
(function(){
  var groups = {};
  function fmtBytes(v){var u=["B","KiB","MiB","GiB","TiB"],i=0;v=Math.max(0,v);while(v>=1024&&i<u.length-1){v/=1024;i++;}return (i===0||v>=100?v.toFixed(0):v.toFixed(1))+" "+u[i];}
  function fmtShort(v){var a=Math.abs(v);return a>=1e6?(v/1e6).toFixed(1)+"M":a>=1e3?(v/1e3).toFixed(1)+"k":(Math.round(v)===v?String(v):v.toFixed(1));}
  function fmtValue(unit,v){
    switch(unit){
      case "cores": return v.toFixed(2)+" cores";
      case "bytes": return fmtBytes(v);
      case "rate": return fmtBytes(v)+"/s";
      case "persec": return fmtShort(v)+"/s";
      case "score": return v.toFixed(0);
      case "percent": return v.toFixed(1)+" %";
    }
    return String(v);
  }
  function pad(n){return (n<10?"0":"")+n;}
  function fmtX(axis,x,precise){
    if(axis.kind==="relative"){
      var r=Math.round(x*10)/10; if(r===0) return "0 s";
      var s=Math.abs(r); return (r<0?"\u2212":"+")+(precise||s!==Math.round(s)?s.toFixed(1):s.toFixed(0))+" s";
    }
    var t=Math.floor(x+axis.offset), d=((t%86400)+86400)%86400;
    return pad(Math.floor(d/3600))+":"+pad(Math.floor(d%3600/60))+":"+pad(d%60);
  }
  function niceStep(range,parts){if(!(range>0))return 1;var raw=range/parts,mag=Math.pow(10,Math.floor(Math.log10(raw))),n=raw/mag;return (n<=1?1:n<=2?2:n<=5?5:10)*mag;}
  function xTicks(axis,x0,x1){
    var step, off=axis.kind==="clock"?axis.offset:0;
    if(axis.kind==="relative") step=niceStep(x1-x0,5);
    else {var raw=(x1-x0)/5, c=[1,2,5,10,15,30,60,120,300,600,900,1800,3600,7200,21600,43200,86400];step=86400;for(var i=0;i<c.length;i++){if(c[i]>=raw){step=c[i];break;}}}
    var out=[], t=Math.ceil((x0+off)/step)*step-off;
    while(t<=x1+1e-9&&out.length<50){out.push(t);t+=step;}
    return out;
  }
  function setup(fig){
    var data; try{data=JSON.parse(fig.querySelector("script.chart-data").textContent);}catch(e){return;}
    var plot=fig.querySelector(".plot"), svg=plot.querySelector("svg");
    var c={fig:fig,data:data,plot:plot,svg:svg,v0:data.x0,v1:data.x1};
    var g=fig.getAttribute("data-group")||fig.id; (groups[g]=groups[g]||[]).push(c);
    var cursor=document.createElement("div"); cursor.className="cursor"; cursor.style.display="none"; plot.appendChild(cursor);
    var tip=document.createElement("div"); tip.className="tip"; tip.style.display="none"; plot.appendChild(tip);
    var sel=document.createElement("div"); sel.className="sel"; sel.style.display="none"; plot.appendChild(sel);
    var drag=null;
    function frac(ev){var r=plot.getBoundingClientRect();return Math.min(1,Math.max(0,(ev.clientX-r.left)/r.width));}
    function xAt(f){return c.v0+f*(c.v1-c.v0);}
    plot.addEventListener("mousemove",function(ev){
      var f=frac(ev), x=xAt(f);
      if(drag!==null){var a=Math.min(drag,f),b=Math.max(drag,f);sel.style.display="block";sel.style.left=(a*100)+"%";sel.style.width=((b-a)*100)+"%";}
      if(!data.x.length) return;
      var best=0; for(var i=1;i<data.x.length;i++){if(Math.abs(data.x[i]-x)<Math.abs(data.x[best]-x))best=i;}
      var bf=(data.x[best]-c.v0)/(c.v1-c.v0);
      cursor.style.display="block"; cursor.style.left=(bf*100)+"%";
      var rows=data.series.map(function(s){return {l:s.label,v:s.values[best]||0};});
      var total=0; rows.forEach(function(r){total+=r.v;});
      if(data.stacked) rows.sort(function(a,b){return b.v-a.v;});
      var html="<b>"+esc(fmtX(data.axis,data.x[best],true))+"</b>";
      rows.forEach(function(r){html+="<div><span>"+esc(r.l)+"</span><span>"+esc(fmtValue(data.unit,r.v))+"</span></div>";});
      if(data.stacked&&rows.length>1) html+="<div><span><i>total</i></span><span>"+esc(fmtValue(data.unit,total))+"</span></div>";
      tip.innerHTML=html; tip.style.display="block";
      var pw=plot.clientWidth, left=bf*pw+12; if(left+tip.offsetWidth>pw) left=Math.max(0,bf*pw-tip.offsetWidth-12);
      tip.style.left=left+"px"; tip.style.top="4px";
    });
    plot.addEventListener("mouseleave",function(){cursor.style.display="none";tip.style.display="none";sel.style.display="none";drag=null;});
    plot.addEventListener("mousedown",function(ev){drag=frac(ev);ev.preventDefault();});
    plot.addEventListener("mouseup",function(ev){
      if(drag===null) return; var f=frac(ev), a=Math.min(drag,f), b=Math.max(drag,f); drag=null; sel.style.display="none";
      if(b-a>0.02) zoom(g,xAt(a),xAt(b));
    });
    plot.addEventListener("dblclick",function(){zoom(g,null,null);});
  }
  function esc(s){return String(s).replace(/[&<>"]/g,function(ch){return {"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[ch];});}
  function zoom(g,a,b){
    (groups[g]||[]).forEach(function(c){
      var d=c.data; c.v0=a===null?d.x0:Math.max(d.x0,a); c.v1=b===null?d.x1:Math.min(d.x1,b);
      if(c.v1-c.v0<1e-6){c.v0=d.x0;c.v1=d.x1;}
      var span=d.x1-d.x0, p0=(c.v0-d.x0)/span*1000, pw=(c.v1-c.v0)/span*1000;
      c.svg.setAttribute("viewBox",p0+" 0 "+pw+" 100");
      var xl=c.plot.querySelector(".xl"), html="";
      xTicks(d.axis,c.v0,c.v1).forEach(function(t){html+="<span style=\"left:"+((t-c.v0)/(c.v1-c.v0)*100)+"%\">"+esc(fmtX(d.axis,t,false))+"</span>";});
      xl.innerHTML=html;
      c.plot.querySelectorAll(".ml span").forEach(function(m){
        var x=parseFloat(m.getAttribute("data-x")), f=(x-c.v0)/(c.v1-c.v0);
        m.style.display=(f<0||f>1)?"none":""; m.style.left=(f*100)+"%";
      });
    });
  }
  document.querySelectorAll("figure.chart").forEach(setup);
})();
